"""The todo idea on Flask (WSGI), with the stdlib sqlite3 module.

    greenwasm serve app:app --app-dir examples/flask --path .cache/site-packages \
        --mount examples/flask/data:/data:rw

Every request runs on its own Python stack, so a slow request (see /slow)
does not hold up the others. FLASK_TODO_DB overrides the database file.
"""

import os
import sqlite3
import time

from flask import Flask, abort, g, jsonify, render_template_string, request

DB_PATH = os.environ.get("FLASK_TODO_DB", "/data/todo.db")

app = Flask(__name__)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Todos — Flask on greenwasm</title></head>
<body>
<h1>Todos</h1>
<form method="post" action="/add"><input name="title" required maxlength="200"> <button>Add</button></form>
<ul>{% for t in todos %}<li>{{ '✓ ' if t['done'] else '' }}{{ t['title'] }}</li>{% endfor %}</ul>
</body></html>"""


def db():
    if "db" not in g:
        g.db = sqlite3.connect(DB_PATH)
        g.db.row_factory = sqlite3.Row
        g.db.execute("CREATE TABLE IF NOT EXISTS todos (id INTEGER PRIMARY KEY, title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0)")
    return g.db


@app.teardown_appcontext
def close_db(_exc):
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()


def rows():
    return [{"id": r["id"], "title": r["title"], "done": bool(r["done"])} for r in db().execute("SELECT * FROM todos ORDER BY id")]


@app.get("/")
def index():
    return render_template_string(PAGE, todos=rows())


@app.post("/add")
def add_form():
    title = request.form.get("title", "").strip()
    if title:
        db().execute("INSERT INTO todos (title) VALUES (?)", (title[:200],))
        db().commit()
    return "", 303, {"Location": "/"}


@app.get("/api/todos")
def list_todos():
    return jsonify(rows())


@app.post("/api/todos")
def create_todo():
    data = request.get_json(silent=True) or {}
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        abort(422, "title must be a non-empty string")
    cur = db().execute("INSERT INTO todos (title) VALUES (?)", (title.strip()[:200],))
    db().commit()
    return jsonify({"id": cur.lastrowid, "title": title.strip()[:200], "done": False}), 201


@app.get("/slow")
def slow():
    seconds = min(float(request.args.get("s", "1")), 10.0)
    time.sleep(seconds)
    return jsonify({"slept": seconds})

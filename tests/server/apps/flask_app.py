"""A small Flask app: the WSGI interface through a real framework."""

import time

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.get("/hello/<name>")
def hello(name):
    return jsonify(hello=name, q=request.args.get("q"))


@app.post("/json")
def echo_json():
    return jsonify(got=request.get_json(), length=request.content_length)


@app.get("/sleep")
def sleep():
    seconds = float(request.args.get("s", "0.1"))
    time.sleep(seconds)
    return jsonify(id=request.args.get("id"), slept=seconds)

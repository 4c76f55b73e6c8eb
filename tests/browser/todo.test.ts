// The todo example as a user meets it: `npm start` serves it, Chromium opens the page, adds
// an item, reloads and sees it. The database goes to a temporary directory (extra --mount and
// TODO_DATABASE_URL appended to the start script) so the repository's example data is untouched.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium, ROOT } from './harness.ts';

describe('todo example in Chromium', { timeout: 240_000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'greenwasm-todo-'));
  let server: ChildProcess | undefined;
  let output = '';
  let url = '';
  let browser: Browser | undefined;

  before(async () => {
    server = spawn(
      'npm',
      ['start', '--silent', '--', '--port', '0', '--mount', `${dataDir}:/testdata:rw`, '--env', 'TODO_DATABASE_URL=sqlite+aiosqlite:////testdata/todo.db'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    server.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
    server.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
    for (let i = 0; i < 1800 && !url; i++) {
      url = /serving (http:\/\/\S+)/.exec(output)?.[1] ?? '';
      if (server.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(url, `npm start did not report a URL:\n${output}`);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    if (server?.pid && server.exitCode === null) {
      const exited = new Promise((r) => server!.once('close', r));
      process.kill(-server.pid, 'SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
      if (server.exitCode === null) process.kill(-server.pid, 'SIGKILL');
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('adds an item that is still listed after a reload', async () => {
    const page = await browser!.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url + '/');
    assert.equal(await page.title(), 'Todos — greenwasm');
    const title = `buy milk ${Date.now()}`;
    await page.fill('#title', title);
    await page.click('button[type=submit]');
    await page.locator('#todos li span', { hasText: title }).waitFor({ timeout: 30_000 });
    await page.reload();
    await page.locator('#todos li span', { hasText: title }).waitFor({ timeout: 30_000 });
    const items = await page.locator('#todos li span').allTextContents();
    assert.deepEqual(items, [title]);
    assert.equal(await page.textContent('#error'), '');
    assert.deepEqual(errors, []);
  });
});

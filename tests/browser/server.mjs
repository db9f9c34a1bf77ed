// Starts a real `kizuna` server on a free port with a small deterministic demo company.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = process.env.KIZUNA_BIN;
if (!BIN) throw new Error('KIZUNA_BIN must point at the kizuna binary (scripts/browser-test sets it)');

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export async function startServer() {
  const dir = mkdtempSync(join(tmpdir(), 'kizuna-browser-'));
  const db = `sqlite://${join(dir, 'kizuna.db')}`;
  const run = (...args) => execFileSync(BIN, ['--database', db, ...args], { stdio: 'pipe' });
  const demo = run('demo', '--seed', '7', '--until', '2026-11-24', '--accounts', '300').toString();
  // "  admin    admin@kizuna-demo.example": one sign-in per role (every partner's user).
  const users = {};
  for (const line of demo.split('\n')) {
    const m = line.match(/^\s+(\w+)\s+(\S+@\S+)$/);
    if (m) (users[m[1]] ??= []).push(m[2]);
  }
  const password = demo.match(/with password "([^"]+)"/)[1];
  run('plan', 'save', 'fy2027', '--scenario', new URL('../../docs/scenario.example.toml', import.meta.url).pathname);
  const port = await freePort();
  const child = spawn(BIN, ['--database', db, 'serve', '--listen', `127.0.0.1:${port}`], { stdio: 'ignore' });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base,
    users,
    /** The SQLite file, for a test that reads what the server keeps (the link key). */
    dbFile: join(dir, 'kizuna.db'),
    password,
    stop() {
      child.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// server.mjs: starts a real bimhub for one test, on 127.0.0.1 and a free port, with a fresh
// data directory. BIMHUB_BIN names the binary (set by ctest); default ../../../build/bimhub.
//
//   const srv = await startServer();            // admin admin@bimhub.test / admin-secret-1
//   const srv = await startServer({ admin: false });                // NOT_SETUP
//   const srv = await startServer({ args: ['--max-json-body-bytes', '1024'] });
//   srv.url, srv.port, srv.dataDir, srv.proc, srv.stderr()
//   await srv.stop();     // SIGTERM; asserts exit code 0 within 10 s (sanitizer reports fail it)
//   await srv.kill9();    // SIGKILL, no checks
//   await srv.restart();  // new process on the same data dir (new port; srv.url is updated)
//
// Data directories are removed when the test process exits, unless BIMHUB_KEEP_DATA is set.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ADMIN_USER = 'admin@bimhub.test';
export const ADMIN_PASSWORD = 'admin-secret-1';
export const SHARED_DIR = process.env.BIMHUB_SHARED ||
  path.resolve(fileURLToPath(new URL('../../../../shared', import.meta.url)));

const START_TIMEOUT_MS = 20000;
const STOP_TIMEOUT_MS = 10000;
const KEEP_BYTES = 1 << 20; // stderr/stdout kept in memory for diagnostics

const live = new Set();
const dataDirs = new Set();
process.on('exit', () => {
  for (const proc of live) {
    try { proc.kill('SIGKILL'); } catch { /* already gone */ }
  }
  if (!process.env.BIMHUB_KEEP_DATA) {
    for (const d of dataDirs) fs.rmSync(d, { recursive: true, force: true });
  }
});

export function binaryPath()
{
  return process.env.BIMHUB_BIN ||
    path.resolve(fileURLToPath(new URL('../../../build/bimhub', import.meta.url)));
}

function tail(s, n = 8000)
{
  return s.length > n ? '...' + s.slice(-n) : s;
}

function waitExit(proc, ms)
{
  if (proc.exitCode !== null || proc.signalCode !== null) {
    return Promise.resolve({ code: proc.exitCode, signal: proc.signalCode });
  }
  return new Promise((resolve) => {
    const timer = ms ? setTimeout(() => resolve(null), ms) : null;
    proc.once('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

/** Spawns one bimhub process and waits for its "listening on" line. */
function spawnServer(argv, env)
{
  const bin = binaryPath();
  if (!fs.existsSync(bin)) throw new Error(`bimhub binary not found: ${bin} (set BIMHUB_BIN)`);
  const proc = spawn(bin, argv, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  const out = { stdout: '', stderr: '' };
  proc.stderr.setEncoding('utf8');
  proc.stdout.setEncoding('utf8');
  proc.stderr.on('data', (d) => {
    out.stderr = (out.stderr + d).slice(-KEEP_BYTES);
  });
  const ready = new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`bimhub did not print "listening on" within ${START_TIMEOUT_MS} ms\n` +
        `command: ${bin} ${argv.join(' ')}\nstdout:\n${tail(out.stdout)}\nstderr:\n${tail(out.stderr)}`));
    }, START_TIMEOUT_MS);
    proc.stdout.on('data', (d) => {
      out.stdout = (out.stdout + d).slice(-KEEP_BYTES);
      if (buf === null) return;
      buf += d;
      const m = /bimhub listening on (https?:\/\/[^\s/]+)/.exec(buf);
      if (m) {
        buf = null;
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`bimhub exited before listening (code ${code}, signal ${signal})\n` +
        `command: ${bin} ${argv.join(' ')}\nstdout:\n${tail(out.stdout)}\nstderr:\n${tail(out.stderr)}`));
    });
    proc.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  return { proc, out, ready };
}

/**
 * Starts bimhub. Options:
 *   admin: true (default) creates admin@bimhub.test / admin-secret-1; false leaves NOT_SETUP
 *   args:  extra command-line flags, after the defaults (so they win)
 *   env:   extra environment variables
 *   dataDir: use this directory instead of a fresh one
 */
export async function startServer({ admin = true, env = {}, args = [], dataDir } = {})
{
  const dir = dataDir || await fs.promises.mkdtemp(path.join(os.tmpdir(), 'bimhub-test-'));
  if (!dataDir) dataDir = dir;
  dataDirs.add(dir);
  const base = ['serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', dir,
    '--log-level', 'warn', '--login-fail-delay-ms', '100',
    '--login-fail-delay-max-ms', '1000',
    // cheap password hashing: tests log in often, under ASan
    '--argon2-ops-limit', '1', '--argon2-mem-limit-kib', '1024'];
  if (admin) base.push('--admin-user', ADMIN_USER, '--admin-password', ADMIN_PASSWORD);
  const argv = [...base, ...args];

  const srv = {
    dataDir: dir,
    url: null,
    port: null,
    proc: null,
    argv,
    out: null,
    stderr: () => (srv.out ? srv.out.stderr : ''),
    stdout: () => (srv.out ? srv.out.stdout : ''),
    async start() {
      const s = spawnServer(argv, env);
      srv.proc = s.proc;
      srv.out = s.out;
      srv.url = await s.ready;
      srv.port = Number(new URL(srv.url).port);
      return srv;
    },
    /** SIGTERM, then the exit must be clean (code 0) within 10 s. Returns {code, signal}. */
    async stop() {
      const proc = srv.proc;
      if (!proc) return null;
      proc.kill('SIGTERM');
      const res = await waitExit(proc, STOP_TIMEOUT_MS);
      if (res === null) {
        proc.kill('SIGKILL');
        await waitExit(proc, 0);
        throw new Error(`bimhub did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM\n` +
          `stderr:\n${tail(srv.stderr())}`);
      }
      if (res.code !== 0) {
        throw new Error(`bimhub exited with code ${res.code} (signal ${res.signal}) after SIGTERM; ` +
          `expected 0\nstderr:\n${tail(srv.stderr(), 20000)}`);
      }
      return res;
    },
    /** SIGKILL: the crash case. */
    async kill9() {
      const proc = srv.proc;
      if (!proc) return null;
      proc.kill('SIGKILL');
      return waitExit(proc, 0);
    },
    /** A new process on the same data dir (after stop() or kill9(); stops a live one first). */
    async restart() {
      if (srv.proc && srv.proc.exitCode === null && srv.proc.signalCode === null) {
        await srv.stop();
      }
      return srv.start();
    },
  };
  return srv.start();
}

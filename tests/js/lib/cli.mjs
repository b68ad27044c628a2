// cli.mjs: runs the bimhub command line client (`bimhub <command>`) and the example service
// bimhub-ifcstats in tests, and counts the instances of a STEP file independently of bimhub.
//
//   const home = tempHome();                                    // an empty HOME for the client
//   const r = await runCli(['project', 'list'], { home, env: { BIMHUB_URL, BIMHUB_TOKEN } });
//   r.code, r.signal, r.stdout, r.stderr, r.lines (stdout lines)
//   const w = await startWatch(['--json'], { home, env });      // bimhub watch ...
//   await w.waitFor((lines) => ...); w.lines; await w.stop()     // SIGINT, exit code 0 expected
//   const s = await startIfcstats({ port, secret, spool });     // bimhub-ifcstats
//   s.url; await s.kill9(); await s.restart({ delayMs }); await s.stop()
//   countStep(buf) → { total, types: Map<TYPE, n>, schema }
//
// BIMHUB_BIN names bimhub, BIMHUB_IFCSTATS bimhub-ifcstats (set by ctest; defaults: ../../../build/...).
// Every process is started with ASAN/UBSAN options from the environment; a sanitizer report makes
// the exit code non-zero, which the tests check.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { binaryPath } from './server.mjs';

const KEEP_BYTES = 1 << 20;
const STOP_MS = 15000;

/** promise, or a rejection with why() after ms. */
function withTimeout(promise, ms, why)
{
  let timer;
  const t = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(why())), ms); });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}
const tempDirs = new Set();
const live = new Set();
process.on('exit', () => {
  for (const p of live) {
    try { p.kill('SIGKILL'); } catch { /* gone */ }
  }
  if (!process.env.BIMHUB_KEEP_DATA) {
    for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
  }
});

/** SIGKILLs every process this module started that still runs (for after(): a test that failed
 *  half-way must not leave a child that keeps node alive). */
export async function killAll()
{
  const waits = [];
  for (const p of live) {
    if (p.exitCode === null && p.signalCode === null) {
      waits.push(new Promise((r) => p.once('close', r)));
      p.kill('SIGKILL');
    }
  }
  live.clear();
  await Promise.all(waits);
}

export function ifcstatsPath()
{
  return process.env.BIMHUB_IFCSTATS ||
    path.resolve(fileURLToPath(new URL('../../../build/examples/ifcstats/bimhub-ifcstats', import.meta.url)));
}

/** A fresh directory removed at exit. */
export function tempDir(prefix = 'bimhub-cli-')
{
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(d);
  return d;
}

export const tempHome = () => tempDir('bimhub-home-');

/** The environment of a client run: ours without the client's own variables, HOME = home. */
function cliEnv(home, env)
{
  const base = { ...process.env };
  for (const k of ['BIMHUB_URL', 'BIMHUB_TOKEN', 'BIMHUB_PASSWORD', 'BIMHUB_USERNAME', 'XDG_CONFIG_HOME']) {
    delete base[k];
  }
  return { ...base, HOME: home || tempHome(), ...env };
}

function spawnCollect(bin, args, { env, input, timeoutMs = 120000 } = {})
{
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    live.add(proc);
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8');
    proc.stderr.setEncoding('utf8');
    proc.stdout.on('data', (d) => { stdout = (stdout + d).slice(-KEEP_BYTES); });
    proc.stderr.on('data', (d) => { stderr = (stderr + d).slice(-KEEP_BYTES); });
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${bin} ${args.join(' ')}: no exit within ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, timeoutMs);
    proc.on('error', (e) => { clearTimeout(timer); reject(e); });
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(proc);
      resolve({ code, signal, stdout, stderr, lines: stdout.split('\n').filter((l) => l.length) });
    });
    if (input !== undefined) proc.stdin.end(input);
    else proc.stdin.end();
  });
}

/** Runs `bimhub ...args`. */
export function runCli(args, { home, env = {}, input, timeoutMs } = {})
{
  return spawnCollect(binaryPath(), args, { env: cliEnv(home, env), input, timeoutMs });
}

/** Runs `bimhub ...args` on a pseudo-terminal (util-linux script), feeding input slowly.
 *  null when `script` is not installed. */
export async function runCliOnTty(args, { home, env = {}, input = [], timeoutMs } = {})
{
  const script = ['/usr/bin/script', '/bin/script'].find((p) => fs.existsSync(p));
  if (!script) return null;
  const quote = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
  const cmd = [binaryPath(), ...args].map(quote).join(' ') + '; echo "[exit $?]"';
  return new Promise((resolve, reject) => {
    const proc = spawn(script, ['-q', '-e', '-c', cmd, '/dev/null'],
      { env: { ...cliEnv(home, env), TERM: 'xterm' }, stdio: ['pipe', 'pipe', 'pipe'] });
    live.add(proc);
    let out = '';
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (d) => { out += d; });
    proc.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`tty run timed out:\n${out}`)); },
      timeoutMs || 60000);
    // each line once its prompt is on the screen
    (async () => {
      for (const line of input) {
        const seen = out.length;
        for (let i = 0; i < 200 && out.length === seen; i++) await new Promise((r) => setTimeout(r, 25));
        await new Promise((r) => setTimeout(r, 50));
        proc.stdin.write(line + '\n');
      }
    })();
    proc.on('close', (code) => {
      clearTimeout(timer);
      live.delete(proc);
      const m = /\[exit (\d+)\]/.exec(out);
      resolve({ code: m ? Number(m[1]) : code, out });
    });
  });
}

/** Starts `bimhub watch ...args`: lines are collected as they come. */
export async function startWatch(args, { home, env = {} } = {})
{
  const proc = spawn(binaryPath(), ['watch', ...args], { env: cliEnv(home, env), stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  const w = {
    proc, lines: [], stderr: '',
    json: () => w.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)),
    async waitFor(pred, ms = 30000) {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        if (pred(w.lines)) return true;
        if (proc.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      return pred(w.lines);
    },
    async stop(signal = 'SIGINT') {
      if (proc.exitCode === null && proc.signalCode === null) {
        const done = new Promise((r) => proc.once('close', (code, sig) => r({ code, signal: sig })));
        proc.kill(signal);
        w.exit = await withTimeout(done, STOP_MS, () => {
          proc.kill('SIGKILL');
          return `bimhub watch did not exit within ${STOP_MS} ms of ${signal}\n${w.stderr}`;
        });
      } else {
        w.exit = { code: proc.exitCode, signal: proc.signalCode };
      }
      live.delete(proc);
      return w.exit;
    },
  };
  let buf = '';
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      w.lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => { w.stderr = (w.stderr + d).slice(-KEEP_BYTES); });
  proc.once('close', (code, signal) => { w.exit = { code, signal }; live.delete(proc); });
  return w;
}

/** A TCP port that was free a moment ago. */
export function freePort()
{
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts bimhub-ifcstats on 127.0.0.1:port (0: any) and waits for its "listening on" line.
 * Returns {url, port, proc, stdout(), stderr(), kill9(), stop(), restart(opts)}.
 */
export async function startIfcstats({ port = 0, secret, spool = tempDir('bimhub-spool-'), delayMs, args = [] } = {})
{
  const s = {
    port, spool, secret, url: null, proc: null, out: { stdout: '', stderr: '' }, history: '',
    stdout: () => s.out.stdout,
    stderr: () => s.out.stderr,
    async start({ delayMs: delay } = {}) {
      const argv = ['--listen', `127.0.0.1:${s.port}`, '--spool', s.spool, ...args];
      if (s.secret) argv.push('--secret', s.secret);
      if (delay) argv.push('--delay-ms', String(delay));
      const env = { ...process.env };
      delete env.BIMHUB_IFCSTATS_SECRET;
      const proc = spawn(ifcstatsPath(), argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      live.add(proc);
      s.proc = proc;
      const out = { stdout: '', stderr: '' };
      s.out = out;
      proc.stdout.setEncoding('utf8');
      proc.stderr.setEncoding('utf8');
      proc.stderr.on('data', (d) => { out.stderr = (out.stderr + d).slice(-KEEP_BYTES); s.history += d; });
      proc.once('exit', () => live.delete(proc));
      s.url = await new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          proc.kill('SIGKILL');
          reject(new Error(`bimhub-ifcstats did not start:\n${out.stdout}\n${out.stderr}`));
        }, 20000);
        proc.stdout.on('data', (d) => {
          out.stdout = (out.stdout + d).slice(-KEEP_BYTES);
          s.history += d;
          const m = /bimhub-ifcstats listening on (http:\/\/\S+)/.exec(out.stdout);
          if (m) { clearTimeout(timer); resolve(m[1]); }
        });
        proc.once('exit', (code, signal) => {
          clearTimeout(timer);
          reject(new Error(`bimhub-ifcstats exited (code ${code}, signal ${signal}):\n${out.stdout}\n${out.stderr}`));
        });
      });
      s.port = Number(new URL(s.url).port);
      return s;
    },
    async kill9() {
      const p = s.proc;
      if (p.exitCode !== null || p.signalCode !== null) return;
      const done = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await done;
    },
    /** SIGTERM; resolves the exit code (0 expected: sanitizer reports make it non-zero). */
    async stop() {
      const p = s.proc;
      if (p.exitCode !== null || p.signalCode !== null) return { code: p.exitCode, signal: p.signalCode };
      const done = new Promise((r) => p.once('exit', (code, signal) => r({ code, signal })));
      p.kill('SIGTERM');
      return withTimeout(done, STOP_MS, () => {
        p.kill('SIGKILL');
        return `bimhub-ifcstats did not exit within ${STOP_MS} ms of SIGTERM\n${s.out.stdout}\n${s.out.stderr}`;
      });
    },
    async restart(opts = {}) {
      await s.kill9();
      return s.start(opts);
    },
  };
  return s.start({ delayMs });
}

/**
 * Counts the instances of an ISO 10303-21 file without bimhub's reader: strings and comments
 * are blanked out, then every `#n = TYPE(` statement of the DATA sections is counted (and each
 * part of a complex instance `#n = (A(...) B(...))`).
 * Returns { total, types: Map(TYPE → count) } (type names upper case, as bimhub reports them).
 */
export function countStep(buf)
{
  const src = buf.toString('latin1');
  // blank strings ('..' with '' inside) and comments, keeping the quotes and the length
  const out = [];
  for (let i = 0; i < src.length;) {
    const c = src[i];
    if (c === "'") {
      out.push("'");
      i++;
      while (i < src.length) {
        if (src[i] === "'" && src[i + 1] === "'") { out.push('  '); i += 2; continue; }
        if (src[i] === "'") { out.push("'"); i++; break; }
        out.push(' ');
        i++;
      }
    } else if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? src.length : end + 2;
      out.push(' '.repeat(stop - i));
      i = stop;
    } else {
      out.push(c);
      i++;
    }
  }
  const text = out.join('');
  const types = new Map();
  let total = 0;
  const add = (t) => types.set(t.toUpperCase(), (types.get(t.toUpperCase()) || 0) + 1);
  const sections = /\bDATA\s*;([\s\S]*?)\bENDSEC\s*;/g;
  let sec;
  while ((sec = sections.exec(text))) {
    const body = sec[1];
    const inst = /#\d+\s*=\s*(?:([A-Za-z_][A-Za-z0-9_]*)\s*\(|\()/g;
    let m;
    while ((m = inst.exec(body))) {
      total++;
      if (m[1]) { add(m[1]); continue; }
      // complex instance: the types at depth 1 of the outer parentheses
      let depth = 1;
      let j = inst.lastIndex;
      let word = '';
      for (; j < body.length && depth > 0; j++) {
        const ch = body[j];
        if (ch === '(') {
          if (depth === 1 && word) add(word);
          depth++;
          word = '';
        } else if (ch === ')') {
          depth--;
        } else if (depth === 1 && /[A-Za-z0-9_]/.test(ch)) {
          word += ch;
        } else if (depth === 1) {
          word = '';
        }
      }
      inst.lastIndex = j;
    }
  }
  return { total, types };
}

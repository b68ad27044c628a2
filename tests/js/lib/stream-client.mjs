// stream-client.mjs: helpers for notification tests (spec §4.6, §4.7, §6, §7).
//
//   const u = await jsUser(srv.url, user, password);   // bimserverapi client, frames recorded
//   u.client, u.token, u.ep (endpoint id), u.frames (every text frame after the handshake,
//   parsed, with its seq), u.pushes() (the NotificationInterface pushes among them)
//   await jsRegister(u.client, 'registerNewProjectHandler', h.fn)  // the client's own method,
//                                         // resolved when its callback runs
//   const h = handler();  h.fn is a handler; h.calls are argument arrays; await h.wait(n)
//
//   const r = await rawEndpoint(srv.url, token);  // openStream + welcome + {"token"}
//   r.s (openStream object), r.ep, await r.push({timeoutMs}) -> next push frame (json)
//   await r.resume(token, ep, lastseq)             // on a new connection: the endpoint reply
//
//   reg(api, 'registerNewRevisionHandler', {endPointId})   // NotificationRegistryInterface
//   checkinB64(api, poid, desOid, {fileName, data})        // checkinAsync (Base64) -> topicId
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

import { call, closeClient, login, newClient, openStream } from './client.mjs';
import { IFC_DIR } from './checkin.mjs';

export const IFC_SMALL = `${IFC_DIR}/Sample_entities.ifc`;   // ifc2x3tc1, 28 KB

function withTimeout(promise, ms, what)
{
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

/** A handler that records its (positional) arguments. */
export function handler(name = 'handler')
{
  const h = {
    name,
    calls: [],
    waiters: [],
    fn: (...args) => {
      h.calls.push(args);
      for (const w of h.waiters.slice()) {
        if (h.calls.filter(w.pred).length >= w.n) {
          h.waiters.splice(h.waiters.indexOf(w), 1);
          w.resolve(h.calls.filter(w.pred));
        }
      }
    },
    /** Resolves the calls matching pred once there are n of them. */
    wait(n = 1, pred = () => true, { timeoutMs = 15000 } = {}) {
      const have = h.calls.filter(pred);
      if (have.length >= n) return Promise.resolve(have);
      const p = new Promise((resolve) => h.waiters.push({ n, pred, resolve }));
      return withTimeout(p, timeoutMs,
        `${name}: waiting for ${n} matching call(s); got ${JSON.stringify(h.calls)}`);
    },
  };
  return h;
}

/**
 * A bimserverapi client logged in as user, whose every /stream text frame is recorded
 * (u.frames, parsed JSON) before the client itself handles it.
 */
export async function jsUser(url, username, password)
{
  const client = newClient(url);
  const frames = [];
  const ws = client.webSocket;
  const orig = ws._onmessage;
  ws._onmessage = function (message) {
    if (typeof message.data === 'string') {
      try { frames.push(JSON.parse(message.data)); } catch { frames.push({ unparsed: message.data }); }
    }
    return orig.call(this, message);
  };
  await withTimeout(client.init(), 20000, 'init');
  const token = await login(client, username, password);
  // the JS client opens the socket lazily, on its first call after login
  const me = await call(client, 'AuthInterface', 'getLoggedInUser', {});
  const u = {
    client, token, frames, uoid: me.oid,
    get ep() { return client.webSocket.endPointId; },
    pushes: () => frames.filter((f) => f.request && f.request.interface === 'NotificationInterface'),
    close: () => closeClient(client),
  };
  assert.ok(u.ep >= 2, `endpoint id ${u.ep}`);
  return u;
}

/**
 * Calls one of the client's register/unregister methods, whose last argument is a callback
 * the client calls on success; rejects with the client's recorded errors after timeoutMs.
 */
export function jsRegister(client, method, ...args)
{
  const before = client.notifier.errors.length;
  const p = new Promise((resolve) => {
    const ret = client[method](...args, () => resolve());
    void ret;
  });
  return withTimeout(p, 10000, `client.${method}(${JSON.stringify(args.filter((a) => typeof a !== 'function'))}); ` +
    `client errors: ${JSON.stringify(client.notifier.errors.slice(before))}`);
}

/** A NotificationRegistryInterface call through an api() object (lib/checkin.mjs). */
export function reg(a, method, params = {})
{
  return a.call('NotificationRegistryInterface', method, params);
}
export function regErr(a, method, params = {})
{
  return a.err('NotificationRegistryInterface', method, params);
}

/** /stream: welcome, {"token"} (plus extra keys), the reply. */
export async function rawEndpoint(url, token, extra = {})
{
  const s = await openStream(url);
  const w = await s.next();
  assert.equal(typeof w.json?.welcome, 'number', `welcome: ${w.text}`);
  s.sendJson({ token, ...extra });
  const m = (await s.next()).json;
  const r = {
    s,
    reply: m,
    ep: m && m.endpointid,
    /** The next frame that is a push (skips nothing else: fails on any other frame). */
    async push({ timeoutMs = 10000 } = {}) {
      const f = await s.next({ timeoutMs });
      assert.ok(f.json && f.json.request, `expected a push, got ${f.text}`);
      return f.json;
    },
    /** Collects pushes for ms (no more than expected). */
    async quiet(ms = 500) {
      await sleep(ms);
      return s.pending().map((f) => f.json);
    },
    close: () => s.close(),
  };
  return r;
}

/** The shape of every push (spec §6.3 plus bimhub's seq). */
export function assertPush(f, method, params, what = '')
{
  assert.deepEqual(Object.keys(f), ['seq', 'request'], `${what} frame keys: ${JSON.stringify(f)}`);
  assert.equal(typeof f.seq, 'number');
  assert.equal(f.request.interface, 'NotificationInterface', what);
  assert.equal(f.request.method, method, `${what}: ${JSON.stringify(f)}`);
  if (params !== undefined) {
    assert.deepEqual(Object.keys(f.request.parameters), Object.keys(params),
      `${what}: parameter order of ${method}`);
    for (const [k, v] of Object.entries(params)) {
      if (v !== undefined) assert.deepEqual(f.request.parameters[k], v, `${what}: ${method}.${k}`);
    }
  }
}

/** checkinAsync with the file in Base64; resolves the topic id. */
export async function checkinB64(a, poid, deserializerOid, { file = IFC_SMALL, fileName = 'model.ifc',
  comment = 'test' } = {})
{
  const data = fs.readFileSync(file);
  return a.svc('checkinAsync', {
    poid, comment, deserializerOid, fileSize: data.length, fileName,
    data: data.toString('base64'), merge: false,
  });
}

/** checkinSync (Base64): resolves the final state. */
export async function checkinSyncB64(a, poid, deserializerOid, { file = IFC_SMALL, fileName = 'model.ifc',
  comment = 'test' } = {})
{
  const data = fs.readFileSync(file);
  return a.svc('checkinSync', {
    poid, comment, deserializerOid, fileSize: data.length, fileName,
    data: data.toString('base64'), merge: false,
  });
}

export { withTimeout, sleep };

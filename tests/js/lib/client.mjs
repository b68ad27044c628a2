// client.mjs: BIMserver's official JavaScript client (bimserverapi 0.0.167), unchanged,
// made to run in Node, plus raw HTTP and WebSocket helpers for what the client cannot send.
//
// - The package's ES modules are loaded through the loader hook in esm-hook.mjs (see there
//   for why), registered before the dynamic import below.
// - The client expects browser globals: XMLHttpRequest (from xhr2) and WebSocket (the
//   websocket package's W3C-compatible w3cwebsocket).
// - The client logs chatter with console.log/info ("Connecting websocket", "Waiting" ...).
//   Unless BIMHUB_TEST_DEBUG is set, console calls made from inside the package are dropped
//   so test output stays readable; our own console calls pass.
import { register } from 'node:module';
import websocketPkg from 'websocket';
import XHR from 'xhr2';

register(new URL('./esm-hook.mjs', import.meta.url));

globalThis.XMLHttpRequest = XHR;
globalThis.WebSocket = websocketPkg.w3cwebsocket;

if (!process.env.BIMHUB_TEST_DEBUG) {
  for (const level of ['log', 'info', 'warn', 'debug']) {
    const orig = console[level].bind(console);
    console[level] = (...args) => {
      if ((new Error().stack || '').includes('/node_modules/bimserverapi/')) return;
      orig(...args);
    };
  }
}

const pkgUrl = new URL('../node_modules/bimserverapi/bimserverclient.js', import.meta.url);
export const { BimServerClient } = await import(pkgUrl.href);

export const DEFAULT_TIMEOUT_MS = 20000;

/** A BimServerClient whose notifier only records errors (client.notifier.errors). */
export function newClient(url)
{
  const notifier = {
    errors: [],
    setInfo() {},
    setSuccess() {},
    setError(message) { this.errors.push(message); },
    resetStatus() {},
    resetStatusQuick() {},
    clear() {},
  };
  // translate: identity, so the client does not warn about keys missing in its table.
  const client = new BimServerClient(url, notifier, (key) => key);
  // Same as the package's _onclose minus the console.log of the whole close event; keeps
  // the close code for tests.
  const ws = client.webSocket;
  ws._onclose = function (event) {
    clearInterval(this.intervalId);
    this.lastClose = { code: event && event.code, reason: event && event.reason };
    this._ws = null;
    this.connected = false;
    this.openCallbacks = [];
    this.endpointid = null;
  };
  return client;
}

function withTimeout(promise, ms, what)
{
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

/**
 * One call through the client (POST /json, after the /stream handshake when the client
 * has a token, as the real client does). Resolves the result; rejects with the exception
 * object ({__type, message, ...}), or {error, ok:false} on a transport error.
 */
export function call(client, iface, method, params = {}, { timeoutMs = DEFAULT_TIMEOUT_MS } = {})
{
  const p = new Promise((resolve, reject) => {
    client.call(iface, method, params, resolve, reject, false, false, false);
  });
  return withTimeout(p, timeoutMs,
    `${iface}.${method} (websocket connected: ${client.webSocket.connected}, ` +
    `endPointId: ${client.webSocket.endPointId})`);
}

/** client.login(): resolves the token (client.user is then the logged-in SUser). */
export function login(client, username, password, { timeoutMs = DEFAULT_TIMEOUT_MS } = {})
{
  const p = new Promise((resolve, reject) => {
    client.login(username, password, () => resolve(client.token), reject,
      { done: false, busy: false, error: false });
  });
  return withTimeout(p, timeoutMs, `login as ${username}`);
}

/** init() + login(): a ready client. */
export async function loggedInClient(url, username, password)
{
  const client = newClient(url);
  await withTimeout(client.init(), DEFAULT_TIMEOUT_MS, 'init (getServerInfo)');
  const token = await login(client, username, password);
  return { client, token };
}

/** Stops the client's heartbeat timer and closes its /stream socket. */
export async function closeClient(client)
{
  const ws = client.webSocket;
  clearInterval(ws.intervalId);
  const sock = ws._ws;
  if (!sock || sock.readyState === 3) return;
  await new Promise((resolve) => {
    const timer = setTimeout(resolve, 2000);
    const prev = sock.onclose;
    sock.onclose = (ev) => {
      clearTimeout(timer);
      if (prev) prev(ev);
      resolve();
    };
    sock.close();
  });
}

// ---------------------------------------------------------------------------------------
// Raw HTTP

/** Any HTTP request; resolves {status, headers (lower-case names), text, json}. */
export async function httpRequest(url, { method = 'GET', headers = {}, body } = {})
{
  const res = await fetch(url, { method, headers, body, redirect: 'manual' });
  const text = await res.text();
  let json;
  try {
    json = text.length ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: Object.fromEntries(res.headers), text, json };
}

/** POST a body (string as is, anything else JSON-encoded) to url (e.g. `${srv.url}/json`). */
export function postJson(url, body, headers = {})
{
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return httpRequest(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json; charset=UTF-8', ...headers },
    body: text,
  });
}

/** POST one request envelope to /json and return the parsed reply (asserting HTTP 200). */
export async function rpc(baseUrl, iface, method, parameters = {}, token = undefined)
{
  const envelope = { request: { interface: iface, method, parameters } };
  if (token !== undefined) envelope.token = token;
  const res = await postJson(`${baseUrl}/json`, envelope);
  if (res.status !== 200 || res.json === undefined) {
    throw new Error(`${iface}.${method}: HTTP ${res.status}, body ${JSON.stringify(res.text)}`);
  }
  return res.json;
}

// ---------------------------------------------------------------------------------------
// Raw /stream with the websocket package's client

export function wsUrl(baseUrl)
{
  return baseUrl.replace(/^http/, 'ws') + '/stream';
}

/**
 * Opens /stream and collects messages. Resolves an object with
 *   next({timeoutMs}) -> next unread message: {type:'text', text, json} or {type:'binary', data}
 *   sendText(s), sendJson(o), sendBinary(buf), close(code), drop()
 *   closed: promise of {code, description} once the connection is closed
 *   isClosed(): boolean
 */
export function openStream(baseUrl, { timeoutMs = 10000 } = {})
{
  const WSClient = websocketPkg.client;
  const wsc = new WSClient({ maxReceivedFrameSize: 64 << 20, maxReceivedMessageSize: 64 << 20 });
  const p = new Promise((resolve, reject) => {
    wsc.on('connectFailed', (err) => reject(err));
    wsc.on('connect', (conn) => {
      const queue = [];
      const waiters = [];
      let closedInfo = null;
      let resolveClosed;
      const closed = new Promise((r) => { resolveClosed = r; });
      const push = (m) => {
        const w = waiters.shift();
        if (w) w.resolve(m);
        else queue.push(m);
      };
      conn.on('message', (m) => {
        if (m.type === 'utf8') {
          let json;
          try { json = JSON.parse(m.utf8Data); } catch { json = undefined; }
          push({ type: 'text', text: m.utf8Data, json });
        } else {
          push({ type: 'binary', data: m.binaryData });
        }
      });
      conn.on('error', () => {});
      conn.on('close', (code, description) => {
        closedInfo = { code, description };
        resolveClosed(closedInfo);
        for (const w of waiters.splice(0)) {
          w.reject(new Error(`connection closed (${code} ${description}) while waiting`));
        }
      });
      resolve({
        conn,
        closed,
        isClosed: () => closedInfo !== null,
        next({ timeoutMs: ms = 10000 } = {}) {
          if (queue.length) return Promise.resolve(queue.shift());
          if (closedInfo) {
            return Promise.reject(new Error(`connection closed (${closedInfo.code})`));
          }
          return withTimeout(new Promise((res, rej) => waiters.push({ resolve: res, reject: rej })),
            ms, 'next /stream message').catch((e) => {
            waiters.splice(0);
            throw e;
          });
        },
        pending: () => queue.slice(),
        sendText: (s) => conn.sendUTF(s),
        sendJson: (o) => conn.sendUTF(JSON.stringify(o)),
        sendBinary: (b) => conn.sendBytes(Buffer.from(b)),
        close(code = 1000) {
          if (closedInfo) return closed;
          conn.close(code);
          return withTimeout(closed, 3000, 'websocket close').catch(() => {
            conn.drop();
            return closed;
          });
        },
        drop: () => conn.drop(),
      });
    });
    wsc.connect(wsUrl(baseUrl));
  });
  return withTimeout(p, timeoutMs, `connect ${wsUrl(baseUrl)}`);
}

// ---------------------------------------------------------------------------------------
// Assertion helpers

/** Awaits a call that must fail; returns the exception object (fails if it resolved). */
export async function callError(client, iface, method, params = {}, opts = {})
{
  let result;
  try {
    result = await call(client, iface, method, params, opts);
  } catch (exc) {
    if (exc instanceof Error) throw exc; // a timeout, not an answer
    return exc;
  }
  throw new Error(`${iface}.${method} was expected to fail but returned ${JSON.stringify(result)}`);
}

/** The exception of a raw /json reply that must have failed. */
export function exceptionOf(reply, what = 'call')
{
  const exc = reply && reply.response && reply.response.exception;
  if (!exc) {
    throw new Error(`${what} was expected to fail but the reply was ${JSON.stringify(reply)}`);
  }
  return exc;
}

/** The result of a raw /json reply that must have succeeded. */
export function resultOf(reply, what = 'call')
{
  if (!reply || !reply.response || !('result' in reply.response)) {
    throw new Error(`${what} was expected to succeed but the reply was ${JSON.stringify(reply)}`);
  }
  return reply.response.result;
}

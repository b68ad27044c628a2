// Bounds for what one client can make the server hold, and two protocol refusals. The
// options are set through BIMHUB_* variables, small, so each case takes a few seconds.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';

import { postJson, resultOf, exceptionOf, rpc } from './lib/client.mjs';
import { OP, RawWs } from './lib/rawws.mjs';
import { ADMIN_PASSWORD, ADMIN_USER, startServer } from './lib/server.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const SERVER_INFO = { request: { interface: 'AdminInterface', method: 'getServerInfo', parameters: {} } };

/** A raw TCP connection to the server from localAddress; records what comes back and when
 *  the server ends it. */
function rawConnect(srv, localAddress = '127.0.0.1')
{
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port: srv.port, localAddress });
    const c = { sock, data: '', ended: false, endedAt: 0, startedAt: Date.now() };
    let onEnd = [];
    c.whenEnded = (ms) => new Promise((res) => {
      if (c.ended) return res(true);
      const timer = setTimeout(() => res(false), ms);
      onEnd.push(() => { clearTimeout(timer); res(true); });
    });
    const end = () => {
      if (c.ended) return;
      c.ended = true;
      c.endedAt = Date.now();
      for (const f of onEnd) f();
      onEnd = [];
    };
    sock.setEncoding('latin1');
    sock.on('data', (d) => { c.data += d; });
    sock.on('end', end);
    sock.on('close', end);
    sock.on('error', end);
    sock.once('connect', () => resolve(c));
    sock.once('error', reject);
  });
}

/** Sends a whole request on a fresh connection and waits for the server to answer or end. */
async function rawExchange(srv, text, { localAddress = '127.0.0.1', timeoutMs = 3000 } = {})
{
  const c = await rawConnect(srv, localAddress);
  c.sock.write(text);
  const until = Date.now() + timeoutMs;
  while (!c.ended && !/\r\n\r\n/.test(c.data) && Date.now() < until) await sleep(20);
  await sleep(50);
  c.sock.destroy();
  return { status: Number((/^HTTP\/1\.1 (\d+)/.exec(c.data) || [])[1] || 0), data: c.data, ended: c.ended };
}

const OPTIONS_REQUEST = 'OPTIONS /json HTTP/1.1\r\nHost: bimhub\r\n\r\n';

describe('per-user topic limit (max_topics_per_user)', () => {
  let srv;
  let token;
  before(async () => {
    srv = await startServer({ env: { BIMHUB_MAX_TOPICS_PER_USER: '5' } });
    token = resultOf(await rpc(srv.url, 'AuthInterface', 'login',
      { username: ADMIN_USER, password: ADMIN_PASSWORD }));
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  const reg = (method, params) => rpc(srv.url, 'NotificationRegistryInterface', method, params, token);

  test('past the limit registerProgressTopic fails with a UserException naming it; unregistering frees room', async () => {
    const ids = [];
    for (let i = 0; i < 5; i++) {
      ids.push(resultOf(await reg('registerProgressTopic', { type: 'RUNNING_SERVICE', description: `t${i}` })));
    }
    const exc = exceptionOf(await reg('registerProgressTopic', { type: 'RUNNING_SERVICE', description: 'one more' }));
    assert.equal(exc.__type, 'UserException');
    assert.match(exc.message, /max_topics_per_user/);
    assert.match(exc.message, /\b5\b/);
    // the ...OnProject variant counts against the same limit
    const pexc = exceptionOf(await reg('registerProgressOnProjectTopic',
      { type: 'UPLOAD', poid: -1, description: 'p' }));
    assert.match(pexc.message, /max_topics_per_user|project/i);
    resultOf(await reg('unregisterProgressTopic', { topicId: ids[0] }));
    resultOf(await reg('registerProgressTopic', { type: 'RUNNING_SERVICE', description: 'again' }));
  });
});

describe('protocol hardening', () => {
  let srv;
  const open = [];
  before(async () => {
    srv = await startServer({ env: { BIMHUB_WS_MAX_MESSAGE_FRAMES: '100' } });
  });
  after(async () => {
    for (const ws of open) ws.destroy();
    if (srv) await srv.stop();
  });

  test('Content-Length together with Transfer-Encoding: chunked gets 400 and the connection closes', async () => {
    const body = JSON.stringify(SERVER_INFO);
    const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    const res = await rawExchange(srv, 'POST /json HTTP/1.1\r\nHost: bimhub\r\n' +
      `Content-Type: application/json\r\nContent-Length: ${chunked.length}\r\n` +
      `Transfer-Encoding: chunked\r\n\r\n${chunked}`);
    assert.equal(res.status, 400, res.data.slice(0, 200));
    assert.match(res.data, /Content-Length and Transfer-Encoding/);
    assert.ok(res.ended, 'the server closed the connection');
    // each alone is fine
    const te = await rawExchange(srv, 'POST /json HTTP/1.1\r\nHost: bimhub\r\n' +
      `Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}`);
    assert.equal(te.status, 200, te.data.slice(0, 200));
  });

  const welcomed = async () => {
    const ws = await RawWs.connect(srv.url);
    open.push(ws);
    const w = await ws.nextMessage();
    assert.equal(typeof JSON.parse(w.text).welcome, 'number');
    return ws;
  };

  /** Sends text in `frames` frames: the first a text frame, the rest continuations. */
  const sendInFrames = (ws, text, frames) => {
    const buf = Buffer.from(text, 'utf8');
    const size = Math.ceil(buf.length / frames);
    for (let i = 0; i < frames; i++) {
      const part = buf.subarray(Math.min(i * size, buf.length), Math.min((i + 1) * size, buf.length));
      ws.sendFrame(i === 0 ? OP.TEXT : OP.CONT, part, { fin: i === frames - 1 });
    }
  };

  test('a /stream message in ws_max_message_frames frames is taken', async () => {
    const ws = await welcomed();
    sendInFrames(ws, JSON.stringify({ id: 7, ...SERVER_INFO }), 100);
    const m = JSON.parse((await ws.nextMessage()).text);
    assert.equal(m.id, 7, JSON.stringify(m));
    ws.destroy();
  });

  test('one frame more (empty continuations) closes with 1009', async () => {
    const ws = await welcomed();
    ws.sendFrame(OP.TEXT, Buffer.alloc(0), { fin: false });
    for (let i = 0; i < 3000; i++) ws.sendFrame(OP.CONT, Buffer.alloc(0), { fin: false });
    const { code } = await ws.waitClose({ timeoutMs: 5000 });
    assert.equal(code, 1009);
    ws.destroy();
    const again = await welcomed(); // the server still serves
    again.destroy();
  });
});

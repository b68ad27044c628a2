// Bounds for what an unauthenticated (or one) client can make the server hold: the memory
// budget for /json bodies and their JSON, the header timeout and the per-address connection
// limit, the per-user topic limit, and two protocol refusals (Content-Length together with
// Transfer-Encoding; a /stream message in too many frames). The options are set through
// BIMHUB_* variables, small, so each case takes a few seconds.
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

describe('request body budget (http_body_budget_bytes)', () => {
  let srv;
  before(async () => {
    srv = await startServer({
      env: { BIMHUB_HTTP_BODY_BUDGET_BYTES: String(3 << 19) }, // 1.5 MiB
      args: ['--max-json-body-bytes', String(1 << 20)],
    });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  test('a body held by one client leaves no room: 503 with Retry-After; room again when it goes', async () => {
    // One client sends all but the last byte of a 1 MB body and stalls: 1 MiB of the 1.5 MiB
    // budget is held until the request ends.
    const held = await rawConnect(srv);
    const len = 1000000;
    held.sock.write('POST /json HTTP/1.1\r\nHost: bimhub\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${len}\r\n\r\n`);
    held.sock.write(' '.repeat(len - 1));
    // A 300 kB call needs its body and about three times a long string's size to parse:
    // more than the budget has left, less than all of it.
    const big = JSON.stringify({ ...SERVER_INFO, pad: 'x'.repeat(300000) });
    let res;
    for (let i = 0; i < 50; i++) {
      res = await postJson(`${srv.url}/json`, big);
      if (res.status === 503) break;
      await sleep(100);
    }
    assert.equal(res.status, 503, `expected 503, got ${res.status} ${res.text.slice(0, 200)}`);
    assert.ok(Number(res.headers['retry-after']) > 0, `Retry-After: ${res.headers['retry-after']}`);
    assert.match(res.text, /retry later/);
    // Small calls still fit.
    const small = await postJson(`${srv.url}/json`, SERVER_INFO);
    assert.equal(small.status, 200);
    assert.ok(resultOf(small.json).version, JSON.stringify(small.json));
    // A body announced larger than what is left is refused before it is read.
    const early = await rawExchange(srv, 'POST /json HTTP/1.1\r\nHost: bimhub\r\n' +
      `Content-Length: ${1 << 20}\r\n\r\n`);
    assert.equal(early.status, 503, early.data.slice(0, 200));
    assert.match(early.data, /\r\nRetry-After: \d+\r\n/i);
    // The client goes away: its reservation goes with it.
    held.sock.destroy();
    for (let i = 0; i < 50; i++) {
      res = await postJson(`${srv.url}/json`, big);
      if (res.status === 200) break;
      await sleep(100);
    }
    assert.equal(res.status, 200, `after the holder left: ${res.status} ${res.text.slice(0, 200)}`);
    assert.ok(resultOf(res.json).version);
  });

  test('a body whose JSON alone needs more than the budget: 413, and the server stays small', async () => {
    // 1 MiB of "[0,0,...]" is about 40 MiB of JSON values.
    const zeros = '[' + '0,'.repeat((1 << 19) - 2) + '0]';
    assert.ok(zeros.length <= 1 << 20);
    const res = await postJson(`${srv.url}/json`, zeros);
    assert.equal(res.status, 413, `${res.status} ${res.text.slice(0, 200)}`);
    assert.match(res.text, /http_body_budget_bytes/);
    const small = await postJson(`${srv.url}/json`, SERVER_INFO);
    assert.equal(small.status, 200);
  });
});

describe('header timeout and per-address connection limit', () => {
  let srv;
  const open = [];
  before(async () => {
    srv = await startServer({
      env: {
        BIMHUB_HTTP_HEADER_TIMEOUT_S: '2',
        BIMHUB_HTTP_PER_IP_CONNECTION_LIMIT: '16',
        BIMHUB_HTTP_CONNECTION_LIMIT: '32',
      },
    });
  });
  after(async () => {
    for (const c of open) c.sock.destroy();
    if (srv) await srv.stop();
  });

  test('slowloris from 127.0.0.2 (a header byte now and then) does not keep 127.0.0.1 out', async () => {
    const loris = [];
    for (let i = 0; i < 40; i++) {
      const c = await rawConnect(srv, '127.0.0.2');
      open.push(c);
      loris.push(c);
      c.sock.write('POST /json HTTP/1.1\r\nHost: bimhub\r\n');
    }
    const header = 'X-Slow: ' + 'a'.repeat(200) + '\r\n';
    let k = 0;
    const trickle = setInterval(() => {
      for (const c of loris) if (!c.ended) c.sock.write(header[k % header.length]);
      k++;
    }, 200);
    try {
      await sleep(500);
      // the limit let 16 in and closed the others at once
      assert.ok(loris.filter((c) => c.ended).length >= 24,
        `${loris.filter((c) => c.ended).length} of 40 slow connections were refused`);
      // 7 real requests from another address are answered promptly
      for (let i = 0; i < 7; i++) {
        const t0 = Date.now();
        const res = await rawExchange(srv, OPTIONS_REQUEST, { timeoutMs: 1500 });
        assert.equal(res.status, 200, `request ${i}: ${JSON.stringify(res.data.slice(0, 100))}`);
        assert.ok(Date.now() - t0 < 1500);
        const reply = await rpc(srv.url, 'AdminInterface', 'getServerInfo');
        assert.ok(resultOf(reply).version);
      }
      // and the slow ones that got in are closed after the timeout although they keep sending
      const all = await Promise.all(loris.map((c) => c.whenEnded(5000)));
      assert.ok(all.every(Boolean), 'every slow connection was closed');
      const last = Math.max(...loris.map((c) => c.endedAt - c.startedAt));
      assert.ok(last >= 1500 && last < 4500, `the last slow connection lasted ${last} ms`);
    } finally {
      clearInterval(trickle);
    }
  });

  test('a connection that sends half a header and stalls is closed after the timeout', async () => {
    const c = await rawConnect(srv);
    open.push(c);
    c.sock.write('GET /json HTTP/1.1\r\nHost: bim');
    assert.ok(await c.whenEnded(5000), 'closed within 5 s');
    const took = c.endedAt - c.startedAt;
    assert.ok(took >= 1500 && took < 4500, `closed after ${took} ms (timeout 2 s)`);
    assert.equal(c.data, '', 'no answer, just the close');
  });

  test('a keep-alive connection is not closed by the header timeout while requests go on', async () => {
    const c = await rawConnect(srv);
    open.push(c);
    for (let i = 0; i < 4; i++) {
      c.data = '';
      c.sock.write(OPTIONS_REQUEST);
      for (let w = 0; w < 50 && !/\r\n\r\n/.test(c.data); w++) await sleep(20);
      assert.match(c.data, /^HTTP\/1\.1 200/);
      await sleep(800); // 3.2 s in all: past the 2 s header timeout of a new connection
    }
    assert.equal(c.ended, false);
    c.sock.destroy();
  });

  test('the per-address limit refuses the 17th connection from one address; another address gets in', async () => {
    const mine = [];
    for (let i = 0; i < 16; i++) {
      const c = await rawConnect(srv, '127.0.0.3');
      open.push(c);
      mine.push(c);
    }
    await sleep(100);
    assert.equal(mine.filter((c) => c.ended).length, 0, 'the first 16 stay open');
    const refused = await rawExchange(srv, OPTIONS_REQUEST, { localAddress: '127.0.0.3', timeoutMs: 1000 });
    assert.equal(refused.status, 0, `17th from 127.0.0.3 answered: ${refused.data.slice(0, 80)}`);
    assert.ok(refused.ended, 'the 17th was closed');
    const other = await rawExchange(srv, OPTIONS_REQUEST, { localAddress: '127.0.0.4' });
    assert.equal(other.status, 200, 'another address gets in');
    mine[0].sock.destroy();
    await sleep(200);
    const again = await rawExchange(srv, OPTIONS_REQUEST, { localAddress: '127.0.0.3' });
    assert.equal(again.status, 200, 'a freed slot can be used again');
    for (const c of mine) c.sock.destroy();
  });
});

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

// RFC 6455 conformance of /stream at the frame level (§5 framing, §7 closing, §4 handshake),
// with a raw client (lib/rawws.mjs + lib/frames.mjs). Each test uses its own connection and
// ends by checking that the server still serves a fresh connection (welcome, token, endpoint).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { rpc, resultOf } from './lib/client.mjs';
import { describeFrames, headerValues, rawHttp, tracedConnect } from './lib/frames.mjs';
import { OP } from './lib/rawws.mjs';
import { ADMIN_PASSWORD, ADMIN_USER, startServer } from './lib/server.mjs';

const WS_LIMIT = 4096;
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

const SERVER_INFO_CALL = JSON.stringify({
  id: 1, request: { interface: 'AdminInterface', method: 'getServerInfo', parameters: {} },
});

describe('/stream RFC 6455 conformance', () => {
  let srv;
  let token;
  const open = [];

  before(async () => {
    srv = await startServer({ args: ['--ws-max-message-bytes', String(WS_LIMIT)] });
    token = resultOf(await rpc(srv.url, 'AuthInterface', 'login',
      { username: ADMIN_USER, password: ADMIN_PASSWORD }));
  });
  after(async () => {
    for (const s of open) s.destroy();
    if (srv) await srv.stop();
  });

  /** A traced raw connection past the welcome frame. */
  const welcomed = async () => {
    const ws = await tracedConnect(srv.url);
    open.push(ws);
    const w = await ws.nextMessage();
    assert.equal(w.opcode, OP.TEXT);
    assert.equal(typeof JSON.parse(w.text).welcome, 'number', `first frame: ${w.text}`);
    assert.equal(w.maskedByServer, false, 'server frames are never masked');
    return ws;
  };

  /** The server must still serve: a fresh handshake, welcome, token -> endpoint. */
  const stillServing = async () => {
    const ws = await welcomed();
    ws.sendJson({ token });
    const m = JSON.parse((await ws.nextMessage()).text);
    assert.equal(m.type, 'endpoint', JSON.stringify(m));
    assert.ok(m.endpointid >= 2);
    ws.sendClose(1000);
    await ws.waitClose();
    ws.destroy();
  };

  /** Asserts that the server fails the connection with `code`: a close frame with that code,
   *  unmasked, and then the TCP connection ends. */
  const expectClose = async (ws, code, what, { waitEnd = true } = {}) => {
    const c = await ws.waitClose();
    assert.ok(c.closeFrame, `${what}: the server sent no close frame (TCP ended: ${c.ended}); ` +
      `frames ${describeFrames(ws.frames)}`);
    assert.equal(c.code, code, `${what}: close code ${c.code}, expected ${code}; reason ` +
      `${JSON.stringify(c.reason)}; frames ${describeFrames(ws.frames)}`);
    const closeFrame = ws.frames.find((f) => f.opcode === OP.CLOSE);
    assert.equal(closeFrame.masked, false, `${what}: the server's close frame is masked`);
    if (waitEnd) await ws.waitEnd();
    ws.destroy();
    return c;
  };

  /** A test on its own connection, followed by the still-serving check. */
  const wsTest = (name, fn) => test(name, async (t) => {
    await fn(t);
    await stillServing();
  });

  // --- §5.1, §5.2: masking, reserved bits, opcodes ----------------------------------------

  wsTest('an unmasked text frame closes with 1002', async () => {
    const ws = await welcomed();
    ws.sendFrame(OP.TEXT, '{"hb":true}', { mask: false });
    await expectClose(ws, 1002, 'unmasked text');
  });

  wsTest('an unmasked ping closes with 1002', async () => {
    const ws = await welcomed();
    ws.sendFrame(OP.PING, 'p', { mask: false });
    await expectClose(ws, 1002, 'unmasked ping');
  });

  for (const [bit, rsv] of [['RSV1', 4], ['RSV2', 2], ['RSV3', 1]]) {
    wsTest(`${bit} set on a text frame (no extension) closes with 1002`, async () => {
      const ws = await welcomed();
      ws.sendFrame(OP.TEXT, '{"hb":true}', { rsv });
      await expectClose(ws, 1002, `${bit} on text`);
    });
  }

  wsTest('RSV1 set on a ping closes with 1002', async () => {
    const ws = await welcomed();
    ws.sendFrame(OP.PING, 'p', { rsv: 4 });
    await expectClose(ws, 1002, 'RSV1 on ping');
  });

  for (const opcode of [0x3, 0x7, 0xb, 0xf]) {
    wsTest(`unknown opcode 0x${opcode.toString(16)} closes with 1002`, async () => {
      const ws = await welcomed();
      ws.sendFrame(opcode, 'x');
      await expectClose(ws, 1002, `opcode ${opcode}`);
    });
  }

  // --- §5.4, §5.5: fragmentation and control frames --------------------------------------

  wsTest('a fragmented RPC call with a ping and a pong between fragments is answered', async () => {
    const ws = await welcomed();
    const msg = Buffer.from(SERVER_INFO_CALL, 'utf8');
    const a = Math.floor(msg.length / 3);
    const b = Math.floor((2 * msg.length) / 3);
    ws.sendFrame(OP.TEXT, msg.subarray(0, a), { fin: false });
    const pingPayload = Buffer.from('mid-message ping \u00e9', 'utf8');
    ws.sendFrame(OP.PING, pingPayload);
    // The pong must come while the message is still open (before the last fragment is sent).
    const pong = await ws.waitFrame((f) => f.opcode === OP.PONG);
    assert.ok(pong.fin, 'pong has FIN');
    assert.equal(pong.masked, false);
    assert.deepEqual(pong.payload, pingPayload, 'the pong echoes the ping payload');
    ws.sendFrame(OP.CONT, msg.subarray(a, b), { fin: false });
    ws.sendFrame(OP.PONG, 'unsolicited pong'); // allowed at any time, ignored
    ws.sendFrame(OP.CONT, msg.subarray(b), { fin: true });
    const reply = JSON.parse((await ws.nextMessage()).text);
    assert.equal(reply.id, 1, JSON.stringify(reply));
    assert.equal(typeof reply.response.result, 'object', JSON.stringify(reply));
    assert.equal(reply.response.result.__type, 'SServerInfo', JSON.stringify(reply));
    // nothing but the pong and the reply came in between
    const since = ws.frames.filter((f) => f.opcode !== OP.TEXT || !f.payload.includes('welcome'));
    assert.deepEqual(since.map((f) => f.opcode), [OP.PONG, OP.TEXT], describeFrames(ws.frames));
    ws.sendClose(1000);
    await expectClose(ws, 1000, 'close after the fragmented call');
  });

  wsTest('a continuation frame without a started message closes with 1002', async () => {
    const ws = await welcomed();
    ws.sendFrame(OP.CONT, '{"hb":true}', { fin: true });
    await expectClose(ws, 1002, 'lone continuation');
  });

  wsTest('a non-final continuation without a started message closes with 1002', async () => {
    const ws = await welcomed();
    ws.sendFrame(OP.CONT, '{"hb":', { fin: false });
    await expectClose(ws, 1002, 'lone continuation, FIN=0');
  });

  wsTest('a new text frame while a fragmented message is open closes with 1002', async () => {
    const ws = await welcomed();
    ws.sendFrame(OP.TEXT, '{"hb":', { fin: false });
    ws.sendFrame(OP.TEXT, '{"hb":true}', { fin: true });
    await expectClose(ws, 1002, 'text inside a fragmented message');
  });

  wsTest('a new binary frame while a fragmented text message is open closes with 1002', async () => {
    const ws = await welcomed();
    ws.sendFrame(OP.TEXT, '{"hb":', { fin: false });
    ws.sendFrame(OP.BINARY, Buffer.from([1, 2]), { fin: true });
    await expectClose(ws, 1002, 'binary inside a fragmented text message');
  });

  wsTest('a ping with a 126-byte payload closes with 1002', async () => {
    const ws = await welcomed();
    ws.sendFrame(OP.PING, Buffer.alloc(126, 0x61));
    await expectClose(ws, 1002, 'ping of 126 bytes');
  });

  wsTest('a close frame with a 126-byte payload closes with 1002', async () => {
    const ws = await welcomed();
    const p = Buffer.alloc(126, 0x61);
    p.writeUInt16BE(1000);
    ws.sendFrame(OP.CLOSE, p);
    await expectClose(ws, 1002, 'close of 126 bytes');
  });

  wsTest('a fragmented ping (FIN=0) closes with 1002', async () => {
    const ws = await welcomed();
    ws.sendFrame(OP.PING, 'part', { fin: false });
    await expectClose(ws, 1002, 'fragmented ping');
  });

  wsTest('a fragmented pong (FIN=0) closes with 1002', async () => {
    const ws = await welcomed();
    ws.sendFrame(OP.PONG, 'part', { fin: false });
    await expectClose(ws, 1002, 'fragmented pong');
  });

  wsTest('a ping is answered by a pong echoing its payload (empty and 125 bytes)', async () => {
    const ws = await welcomed();
    const big = crypto.randomBytes(125);
    ws.sendFrame(OP.PING, Buffer.alloc(0));
    ws.sendFrame(OP.PING, big);
    const pongs = [];
    pongs.push(await ws.waitFrame((f) => f.opcode === OP.PONG));
    pongs.push(await ws.waitFrame((f) => f.opcode === OP.PONG && f !== pongs[0]));
    assert.equal(pongs[0].payload.length, 0);
    assert.deepEqual(pongs[1].payload, big);
    for (const p of pongs) {
      assert.equal(p.masked, false);
      assert.ok(p.fin);
    }
    // the connection is still usable
    ws.sendText(SERVER_INFO_CALL);
    assert.equal(JSON.parse((await ws.nextMessage()).text).id, 1);
    ws.sendClose(1000);
    await expectClose(ws, 1000, 'close after pings');
  });

  // --- §5.5.1, §7.4: closing --------------------------------------------------------------

  wsTest('close 1000 is answered with close 1000 and the server closes TCP', async () => {
    const ws = await welcomed();
    ws.sendClose(1000, 'bye');
    await expectClose(ws, 1000, 'close 1000');
  });

  wsTest('a close without payload is answered with a close and TCP ends', async () => {
    const ws = await welcomed();
    ws.sendClose(null);
    const c = await ws.waitClose();
    assert.ok(c.closeFrame, `no close frame: ${describeFrames(ws.frames)}`);
    assert.ok(c.code === null || c.code === 1000, `close code ${c.code} for an empty close`);
    await ws.waitEnd();
    ws.destroy();
  });

  for (const code of [1001, 1011, 3000, 4999]) {
    wsTest(`close ${code} (valid) is answered with a close, not 1002`, async () => {
      const ws = await welcomed();
      ws.sendClose(code);
      const c = await ws.waitClose();
      assert.ok(c.closeFrame, `no close frame: ${describeFrames(ws.frames)}`);
      assert.notEqual(c.code, 1002, `valid close code ${code} treated as a protocol error`);
      await ws.waitEnd();
      ws.destroy();
    });
  }

  // (Our close is already sent, so we do not answer the server's 1002; whether the server
  // then closes TCP by itself is the next test's subject.)
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]) {
    wsTest(`close with code ${code} (not allowed on the wire) closes with 1002`, async () => {
      const ws = await welcomed();
      ws.sendClose(code);
      await expectClose(ws, 1002, `close ${code}`, { waitEnd: false });
    });
  }

  wsTest('after answering a malformed close with 1002 the server closes TCP promptly', async () => {
    // §7.1.1: after both sending and receiving a Close, an endpoint MUST close the TCP
    // connection; the client has sent its (malformed) close and will send nothing more.
    const ws = await welcomed();
    const t0 = Date.now();
    ws.sendClose(5000);
    await expectClose(ws, 1002, 'close 5000', { waitEnd: false });
    await ws.waitEnd({ timeoutMs: 10000 });
    const ms = Date.now() - t0;
    assert.ok(ms < 1000, `the server held the TCP connection ${ms} ms after the close exchange`);
  });

  wsTest('a close frame with a 1-byte payload closes with 1002', async () => {
    const ws = await welcomed();
    ws.sentClose = true;
    ws.sendFrame(OP.CLOSE, Buffer.from([0x03]));
    await expectClose(ws, 1002, 'close of 1 byte', { waitEnd: false });
  });

  wsTest('a close frame whose reason is not UTF-8 closes with 1007 or 1002', async (t) => {
    const ws = await welcomed();
    ws.sendClose(1000, Buffer.from([0x61, 0xc3, 0x28, 0x62]));
    const c = await ws.waitClose();
    assert.ok(c.closeFrame, `no close frame: ${describeFrames(ws.frames)}`);
    // RFC 6455 §8.1 fails the connection; Autobahn (7.5.1) accepts 1007 or 1002.
    assert.ok(c.code === 1007 || c.code === 1002,
      `close with a non-UTF-8 reason answered with ${c.code}, expected 1007 or 1002`);
    t.diagnostic(`non-UTF-8 close reason: the server answered close ${c.code}`);
    ws.destroy();
  });

  wsTest('after a close nothing else is processed', async () => {
    const ws = await welcomed();
    ws.sendClose(1000);
    ws.sendText(SERVER_INFO_CALL); // after our close: must be ignored
    await expectClose(ws, 1000, 'close then text');
    assert.ok(!ws.frames.some((f) => f.opcode === OP.TEXT && f.payload.includes('"id":1')),
      'a message sent after the close was answered');
  });

  // --- §5.6, §8.1: UTF-8 ------------------------------------------------------------------

  wsTest('UTF-8 split inside a 3-byte and a 4-byte character across fragments is accepted',
    async () => {
      const ws = await welcomed();
      // The exception message echoes the interface name, so the reply proves the decoding.
      const name = 'x\u20ac\u{1f600}y'; // € is E2 82 AC, 😀 is F0 9F 98 80
      const msg = Buffer.from(JSON.stringify({
        id: 7, request: { interface: name, method: 'm', parameters: {} },
      }), 'utf8');
      const euro = msg.indexOf(Buffer.from([0xe2, 0x82, 0xac]));
      const grin = msg.indexOf(Buffer.from([0xf0, 0x9f, 0x98, 0x80]));
      assert.ok(euro > 0 && grin > euro);
      ws.sendFrame(OP.TEXT, msg.subarray(0, euro + 1), { fin: false }); // ends after E2
      ws.sendFrame(OP.CONT, msg.subarray(euro + 1, euro + 2), { fin: false }); // 82
      ws.sendFrame(OP.CONT, msg.subarray(euro + 2, grin + 2), { fin: false }); // AC ... F0 9F
      ws.sendFrame(OP.CONT, msg.subarray(grin + 2, grin + 3), { fin: false }); // 98
      ws.sendFrame(OP.CONT, msg.subarray(grin + 3), { fin: true }); // 80 ...
      const reply = JSON.parse((await ws.nextMessage()).text);
      assert.equal(reply.id, 7);
      assert.equal(reply.response.exception.message, `No service found with name ${name}`);
      ws.sendClose(1000);
      await expectClose(ws, 1000, 'close after split UTF-8');
    });

  const invalidUtf8 = {
    'overlong 2-byte (C0 AF)': [0xc0, 0xaf],
    'overlong 3-byte (E0 80 AF)': [0xe0, 0x80, 0xaf],
    'overlong 4-byte (F0 80 80 AF)': [0xf0, 0x80, 0x80, 0xaf],
    'surrogate (ED A0 80)': [0xed, 0xa0, 0x80],
    'byte F5': [0xf5, 0x80, 0x80, 0x80],
    'above U+10FFFF (F4 90 80 80)': [0xf4, 0x90, 0x80, 0x80],
    'lone continuation byte (80)': [0x80],
    'truncated at the end of the message (E2 82)': [0xe2, 0x82],
  };
  for (const [what, bytes] of Object.entries(invalidUtf8)) {
    wsTest(`invalid UTF-8, ${what}, in one frame closes with 1007`, async () => {
      const ws = await welcomed();
      ws.sendFrame(OP.TEXT, Buffer.concat([Buffer.from('{"hb":"'), Buffer.from(bytes),
        Buffer.from('"}')].slice(0, what.startsWith('truncated') ? 2 : 3)));
      await expectClose(ws, 1007, what);
    });
    wsTest(`invalid UTF-8, ${what}, in a later fragment closes with 1007`, async () => {
      const ws = await welcomed();
      ws.sendFrame(OP.TEXT, '{"hb":"valid start \u00e9', { fin: false });
      ws.sendFrame(OP.CONT, 'more valid text', { fin: false });
      const tail = what.startsWith('truncated') ? Buffer.from(bytes)
        : Buffer.concat([Buffer.from('z'), Buffer.from(bytes), Buffer.from('"}')]);
      ws.sendFrame(OP.CONT, tail, { fin: true });
      await expectClose(ws, 1007, `${what} in the last fragment`);
    });
  }

  wsTest('invalid UTF-8 in a middle fragment closes with 1007', async () => {
    const ws = await welcomed();
    ws.sendFrame(OP.TEXT, '{"hb":"', { fin: false });
    ws.sendFrame(OP.CONT, Buffer.from([0x61, 0xed, 0xa0, 0x80]), { fin: false });
    ws.sendFrame(OP.CONT, '"}', { fin: true });
    await expectClose(ws, 1007, 'surrogate in a middle fragment');
  });

  // --- size limit and data types ----------------------------------------------------------

  wsTest(`one frame over --ws-max-message-bytes (${WS_LIMIT}) closes with 1009`, async () => {
    const ws = await welcomed();
    ws.sendJson({ hb: true, pad: 'x'.repeat(WS_LIMIT + 10) });
    await expectClose(ws, 1009, 'one big frame');
  });

  wsTest('a message exactly at the limit is accepted', async () => {
    const ws = await welcomed();
    const call = JSON.parse(SERVER_INFO_CALL);
    call.pad = '';
    const base = Buffer.byteLength(JSON.stringify(call));
    call.pad = 'x'.repeat(WS_LIMIT - base);
    const text = JSON.stringify(call);
    assert.equal(Buffer.byteLength(text), WS_LIMIT);
    ws.sendText(text);
    assert.equal(JSON.parse((await ws.nextMessage()).text).id, 1);
    ws.sendClose(1000);
    await expectClose(ws, 1000, 'close after a message at the limit');
  });

  wsTest(`fragments adding up to more than ${WS_LIMIT} bytes close with 1009`, async () => {
    const ws = await welcomed();
    const part = Buffer.from('x'.repeat(1500));
    ws.sendFrame(OP.TEXT, Buffer.concat([Buffer.from('{"hb":true,"pad":"'), part]), { fin: false });
    ws.sendFrame(OP.CONT, part, { fin: false });
    ws.sendFrame(OP.CONT, part, { fin: false });
    ws.sendFrame(OP.CONT, Buffer.from('"}'), { fin: true });
    await expectClose(ws, 1009, 'fragments over the limit');
  });

  wsTest('a binary message closes with 1003', async () => {
    const ws = await welcomed();
    ws.sendFrame(OP.BINARY, Buffer.from([0, 1, 2, 3]));
    await expectClose(ws, 1003, 'binary');
  });

  wsTest('a fragmented binary message closes with 1003', async () => {
    const ws = await welcomed();
    ws.sendFrame(OP.BINARY, Buffer.from([0, 1]), { fin: false });
    ws.sendFrame(OP.CONT, Buffer.from([2, 3]), { fin: true });
    await expectClose(ws, 1003, 'fragmented binary');
  });

  // --- §4.2: the opening handshake ---------------------------------------------------------

  const upgradeRequest = ({ version = 'HTTP/1.1', key = crypto.randomBytes(16).toString('base64'),
    wsVersion = '13', extra = '' } = {}) =>
    `GET /stream ${version}\r\nHost: 127.0.0.1:${srv.port}\r\nUpgrade: websocket\r\n` +
    'Connection: Upgrade\r\n' +
    (key === null ? '' : `Sec-WebSocket-Key: ${key}\r\n`) +
    (wsVersion === null ? '' : `Sec-WebSocket-Version: ${wsVersion}\r\n`) + extra + '\r\n';

  wsTest('an HTTP/1.0 upgrade request gets 400', async () => {
    const r = await rawHttp(srv.port, upgradeRequest({ version: 'HTTP/1.0' }));
    assert.equal(r.status, 400, r.raw);
  });

  wsTest('an upgrade without Sec-WebSocket-Key gets 400', async () => {
    const r = await rawHttp(srv.port, upgradeRequest({ key: null }));
    assert.equal(r.status, 400, r.raw);
  });

  wsTest('an upgrade with a Sec-WebSocket-Key that is not 16 bytes in Base64 gets 400', async () => {
    const r = await rawHttp(srv.port, upgradeRequest({ key: 'c2hvcnQ=' }));
    assert.equal(r.status, 400, r.raw);
  });

  wsTest('Sec-WebSocket-Version 8 gets 426 with Sec-WebSocket-Version: 13', async () => {
    const r = await rawHttp(srv.port, upgradeRequest({ wsVersion: '8' }));
    assert.equal(r.status, 426, r.raw);
    assert.deepEqual(headerValues(r, 'Sec-WebSocket-Version'), ['13'], r.raw);
  });

  wsTest('the 101 has one Connection: Upgrade, one Upgrade: websocket and the right accept',
    async () => {
      // the RFC's own example key and accept value (§1.3)
      const key = 'dGhlIHNhbXBsZSBub25jZQ==';
      const r = await rawHttp(srv.port, upgradeRequest({ key }));
      assert.equal(r.status, 101, r.raw);
      assert.match(r.statusLine, /^HTTP\/1\.1 101/);
      const conn = headerValues(r, 'Connection');
      assert.equal(conn.length, 1, `Connection headers: ${JSON.stringify(conn)}\n${r.raw}`);
      assert.equal(conn[0].toLowerCase(), 'upgrade', r.raw);
      const up = headerValues(r, 'Upgrade');
      assert.equal(up.length, 1, r.raw);
      assert.equal(up[0].toLowerCase(), 'websocket', r.raw);
      const accept = headerValues(r, 'Sec-WebSocket-Accept');
      assert.deepEqual(accept, ['s3pPLMBiTxaQ9kYGzzhZRbK+xOo='], r.raw);
      assert.equal(crypto.createHash('sha1').update(key + GUID).digest('base64'), accept[0]);
      assert.deepEqual(headerValues(r, 'Sec-WebSocket-Protocol'), [], 'no subprotocol chosen');
      assert.deepEqual(headerValues(r, 'Sec-WebSocket-Extensions'), [], 'no extension chosen');
    });

  wsTest('permessage-deflate offered by the client is not accepted', async () => {
    const r = await rawHttp(srv.port,
      upgradeRequest({ extra: 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n' }));
    assert.equal(r.status, 101, r.raw);
    assert.deepEqual(headerValues(r, 'Sec-WebSocket-Extensions'), [], r.raw);
  });

  test('the server is healthy at the end', async () => {
    const info = resultOf(await rpc(srv.url, 'AdminInterface', 'getServerInfo', {}));
    assert.equal(info.serverState, 'RUNNING');
    await stillServing();
  });
});

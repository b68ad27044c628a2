// The /stream WebSocket (spec §6): the JS client's handshake, then raw messages and frames.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';

import {
  call, closeClient, loggedInClient, openStream, rpc, resultOf,
} from './lib/client.mjs';
import { OP, RawWs } from './lib/rawws.mjs';
import { ADMIN_PASSWORD, ADMIN_USER, startServer } from './lib/server.mjs';

const WS_LIMIT = 4096;

describe('/stream', () => {
  let srv;
  let token;
  const open = [];
  const stream = async () => {
    const s = await openStream(srv.url);
    open.push(s);
    return s;
  };
  const raw = async () => {
    const s = await RawWs.connect(srv.url, '/stream');
    open.push(s);
    return s;
  };
  const welcomed = async () => {
    const s = await stream();
    const w = await s.next();
    assert.equal(typeof w.json.welcome, 'number', `first frame: ${w.text}`);
    return s;
  };

  before(async () => {
    srv = await startServer({ args: ['--ws-max-message-bytes', String(WS_LIMIT)] });
    token = resultOf(await rpc(srv.url, 'AuthInterface', 'login',
      { username: ADMIN_USER, password: ADMIN_PASSWORD }));
  });
  after(async () => {
    for (const s of open) s.isClosed?.() || (s.drop ? s.drop() : s.destroy());
    if (srv) await srv.stop();
  });

  test('the JS client completes the handshake and calls over the socket', async () => {
    const a = await loggedInClient(srv.url, ADMIN_USER, ADMIN_PASSWORD);
    const b = await loggedInClient(srv.url, ADMIN_USER, ADMIN_PASSWORD);
    try {
      assert.ok(a.client.webSocket.endPointId >= 2);
      assert.ok(b.client.webSocket.endPointId > a.client.webSocket.endPointId,
        'endpoint ids count up per server');
      // BimServerClient.callWithWebsocket: {"id":0,"request":{...},"token":...}
      const user = await a.client.callWithWebsocket('AuthInterface', 'getLoggedInUser', {});
      assert.equal(user.username, ADMIN_USER);
      // and /json still works beside it
      assert.equal(await call(a.client, 'AuthInterface', 'getAccessMethod', {}), 'JSON');
    } finally {
      await closeClient(a.client);
      await closeClient(b.client);
    }
  });

  test('welcome carries the server time in ms', async () => {
    const s = await stream();
    const w = await s.next();
    assert.deepEqual(Object.keys(w.json), ['welcome']);
    assert.ok(Math.abs(w.json.welcome - Date.now()) < 60000, `welcome ${w.json.welcome}`);
    await s.close();
  });

  test('{"token": T} registers an endpoint', async () => {
    const s = await welcomed();
    s.sendJson({ token });
    const m = (await s.next()).json;
    assert.equal(m.type, 'endpoint');
    assert.equal(typeof m.endpointid, 'number');
    assert.ok(m.endpointid >= 2);
    assert.equal(m.payload.endpointid, m.endpointid);
    await s.close();
  });

  test('a bad token gets {"error":"Invalid token"} and the socket is closed', async () => {
    const s = await welcomed();
    s.sendJson({ token: 'not-a-token' });
    const m = await s.next();
    assert.deepEqual(m.json, { error: 'Invalid token' });
    const closed = await Promise.race([s.closed, sleep(5000, null, { ref: false })]);
    assert.ok(closed, 'the server closes the socket after a bad token');
  });

  test('heartbeats get no reply; RPC over the socket answers with the id', async () => {
    const s = await welcomed();
    s.sendJson({ hb: true });
    s.sendText('this is not json');
    await sleep(500);
    assert.deepEqual(s.pending(), [], 'no reply to a heartbeat or to unparseable text');
    s.sendJson({
      id: 5,
      request: { interface: 'org.bimserver.AuthInterface', method: 'getLoggedInUser', parameters: {} },
      token,
    });
    const m = (await s.next()).json;
    assert.equal(m.id, 5);
    assert.equal(m.response.result.__type, 'SUser');
    assert.equal(m.response.result.username, ADMIN_USER);
    await s.close();
  });

  test('RPC over the socket reports exceptions like /json', async () => {
    const s = await welcomed();
    s.sendJson({ id: 0, request: { interface: 'NoSuchInterface', method: 'x', parameters: {} } });
    const m = (await s.next()).json;
    assert.equal(m.id, 0);
    assert.equal(m.response.exception.message, 'No service found with name NoSuchInterface');
    await s.close();
  });

  test('invalid UTF-8 in a text frame closes with 1007', async () => {
    const s = await raw();
    const w = await s.nextMessage();
    assert.equal(w.opcode, OP.TEXT);
    s.sendFrame(OP.TEXT, Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d])); // {"\xc3("}
    const c = await s.waitClose();
    assert.equal(c.code, 1007, JSON.stringify(c));
    s.destroy();
  });

  test(`a message over --ws-max-message-bytes (${WS_LIMIT}) closes with 1009`, async () => {
    const s = await raw();
    await s.nextMessage();
    // under the limit: fine
    s.sendJson({ hb: true, pad: 'x'.repeat(WS_LIMIT - 200) });
    s.sendJson({ id: 1, request: { interface: 'AuthInterface', method: 'getAccessMethod',
      parameters: {} } });
    const ok = JSON.parse((await s.nextMessage()).text);
    assert.equal(ok.response.result, 'JSON');
    // over the limit, in one frame and then as fragments on a new connection
    s.sendJson({ hb: true, pad: 'x'.repeat(WS_LIMIT + 100) });
    assert.equal((await s.waitClose()).code, 1009);
    s.destroy();

    const f = await raw();
    await f.nextMessage();
    const half = Buffer.from('x'.repeat(WS_LIMIT / 2 + 100));
    f.sendFrame(OP.TEXT, Buffer.concat([Buffer.from('{"hb":true,"pad":"'), half]), { fin: false });
    f.sendFrame(OP.CONT, half, { fin: false });
    f.sendFrame(OP.CONT, Buffer.from('"}'), { fin: true });
    assert.equal((await f.waitClose()).code, 1009);
    f.destroy();
  });

  test('a binary frame from the client closes with 1003', async () => {
    const s = await raw();
    await s.nextMessage();
    s.sendBinary(Buffer.from([1, 2, 3, 4]));
    assert.equal((await s.waitClose()).code, 1003);
    s.destroy();
  });

  test('the server is still healthy after all that', async () => {
    const info = resultOf(await rpc(srv.url, 'AdminInterface', 'getServerInfo', {}));
    assert.equal(info.serverState, 'RUNNING');
    const s = await welcomed();
    s.sendJson({ token });
    assert.equal((await s.next()).json.type, 'endpoint');
    await s.close();
  });
});

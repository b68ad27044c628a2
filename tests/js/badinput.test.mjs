// POST /json on the wire (spec §1.1, §1.2, §2, §3): envelopes, names, CORS, tokens and
// inputs the JS client would never send.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { exceptionOf, httpRequest, postJson, resultOf, rpc } from './lib/client.mjs';
import { ADMIN_PASSWORD, ADMIN_USER, startServer } from './lib/server.mjs';

const req = (iface, method, parameters = {}) => ({ interface: iface, method, parameters });

describe('/json envelopes and bad input', () => {
  let srv;
  let json;
  let token;
  let poid;

  before(async () => {
    srv = await startServer();
    json = `${srv.url}/json`;
    token = resultOf(await rpc(srv.url, 'AuthInterface', 'login',
      { username: ADMIN_USER, password: ADMIN_PASSWORD }));
    poid = resultOf(await rpc(srv.url, 'ServiceInterface', 'addProject',
      { projectName: 'Lenient', schema: 'ifc2x3tc1' }, token)).oid;
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  test('CORS preflight: OPTIONS /json is 200 and echoes the Origin', async () => {
    const origin = 'http://viewer.example.test';
    const res = await httpRequest(json, {
      method: 'OPTIONS',
      headers: { Origin: origin, 'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers['access-control-allow-origin'], origin);
    assert.match(res.headers['access-control-allow-headers'] || '', /content-type/i);
    assert.equal(res.text, '');

    const post = await postJson(json, { request: req('AuthInterface', 'getAccessMethod') },
      { Origin: origin });
    assert.equal(post.status, 200);
    assert.equal(post.headers['access-control-allow-origin'], origin);
    assert.match(post.headers['content-type'], /^application\/json/);
  });

  test('requests: one response per request, a failure does not stop the rest', async () => {
    const res = await postJson(json, {
      requests: [req('AdminInterface', 'getServerInfo'), req('Nope', 'x'),
        req('AuthInterface', 'getAccessMethod')],
    });
    assert.equal(res.status, 200);
    const r = res.json.responses;
    assert.equal(r.length, 3);
    assert.equal(r[0].result.__type, 'SServerInfo');
    assert.equal(r[1].exception.message, 'No service found with name Nope');
    assert.equal(r[1].result, undefined);
    assert.equal(r[2].result, 'JSON');
  });

  test('id is echoed as the first key; no request at all gives {}', async () => {
    const res = await postJson(json, { request: req('AuthInterface', 'getAccessMethod'), id: 7 });
    assert.deepEqual(Object.keys(res.json), ['id', 'response']);
    assert.equal(res.json.id, 7);
    assert.ok(res.text.trimStart().startsWith('{"id"'), res.text);
    assert.deepEqual((await postJson(json, {})).json, {});
    assert.deepEqual((await postJson(json, { id: 3 })).json, { id: 3 });
  });

  test('the token can come from Authorization: Bearer or a Token header', async () => {
    const body = { request: req('AuthInterface', 'getLoggedInUser') };
    for (const headers of [{ Authorization: `Bearer ${token}` }, { Token: token }]) {
      const res = await postJson(json, body, headers);
      assert.equal(resultOf(res.json, JSON.stringify(Object.keys(headers))).username, ADMIN_USER);
    }
    // and without any token the same call needs a login
    assert.equal(exceptionOf((await postJson(json, body)).json).message,
      'Authentication required for this call');
  });

  test('short, full and Bimsie1 interface names all work', async () => {
    for (const name of ['AdminInterface', 'org.bimserver.AdminInterface']) {
      assert.equal(resultOf(await rpc(srv.url, name, 'getServerInfo')).__type, 'SServerInfo', name);
    }
    for (const name of ['AuthInterface', 'org.bimserver.AuthInterface', 'Bimsie1AuthInterface',
      'org.buildingsmart.bimsie1.Bimsie1AuthInterface']) {
      assert.equal(resultOf(await rpc(srv.url, name, 'getAccessMethod')), 'JSON', name);
    }
  });

  test('unknown interface, unknown method, missing parameter', async () => {
    const iface = exceptionOf(await rpc(srv.url, 'NoSuchInterface', 'getServerInfo'));
    assert.equal(iface.__type, 'UserException');
    assert.equal(iface.message, 'No service found with name NoSuchInterface');

    const method = exceptionOf(await rpc(srv.url, 'AuthInterface', 'noSuchMethod'));
    assert.equal(method.__type, 'UserException');
    assert.ok(method.message.startsWith('Method noSuchMethod not found on'), method.message);

    const param = exceptionOf(await rpc(srv.url, 'AuthInterface', 'login', { username: 'a@b.c' }));
    assert.equal(param.__type, 'UserException');
    assert.equal(param.message, 'Missing parameter: login -> password');
  });

  test('scalars are converted leniently: poid "12" is a number', async () => {
    const p = resultOf(await rpc(srv.url, 'ServiceInterface', 'getProjectByPoid',
      { poid: String(poid) }, token));
    assert.equal(p.oid, poid);
    assert.equal(p.name, 'Lenient');
  });

  test('a body that is not a JSON object is HTTP 500 with an empty body', async () => {
    for (const body of ['{"request":', '[1,2]', '', 'null', '{"request":{"interface":"A"']) {
      const res = await postJson(json, body);
      assert.equal(res.status, 500, `body ${JSON.stringify(body)}`);
      assert.equal(res.text, '', `body ${JSON.stringify(body)}`);
    }
    const get = await httpRequest(json);
    assert.equal(get.status, 500);
    // and the server keeps answering
    assert.equal(resultOf(await rpc(srv.url, 'AdminInterface', 'getServerInfo')).serverState,
      'RUNNING');
  });

  test('a bad token fails every call, even getServerInfo', async () => {
    for (const [iface, method] of [['AdminInterface', 'getServerInfo'],
      ['AuthInterface', 'getLoggedInUser'], ['AuthInterface', 'isLoggedIn']]) {
      const exc = exceptionOf(await rpc(srv.url, iface, method, {}, 'bad-token'), method);
      assert.ok(['AuthenticationException', 'UserException'].includes(exc.__type), exc.__type);
      assert.equal(exc.message, 'Invalid token', method);
    }
    // a token of the right shape that the server never issued
    const forged = token.replace(/[0-9a-f]/g, (ch) => (ch === 'a' ? 'b' : 'a'));
    const exc = exceptionOf(await rpc(srv.url, 'AuthInterface', 'getLoggedInUser', {}, forged));
    assert.ok(['AuthenticationException', 'UserException'].includes(exc.__type), exc.__type);
  });
});

describe('/json body limit', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--max-json-body-bytes', '1024'] });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  test('a body over --max-json-body-bytes is 413; one under it is served', async () => {
    const envelope = (n) => JSON.stringify(
      { request: req('AuthInterface', 'getAccessMethod'), pad: 'x'.repeat(n) });
    const small = await postJson(`${srv.url}/json`, envelope(800));
    assert.equal(small.status, 200);
    assert.equal(small.json.response.result, 'JSON');

    const big = await postJson(`${srv.url}/json`, envelope(2000));
    assert.equal(big.status, 413);
    const after413 = await postJson(`${srv.url}/json`, envelope(10));
    assert.equal(after413.json.response.result, 'JSON');
  });
});

describe('token lifetime', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--token-lifetime-s', '1'] });
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  test('a token stops working when it expires, even one used (and cached) before', async () => {
    const token = resultOf(await rpc(srv.url, 'AuthInterface', 'login',
      { username: ADMIN_USER, password: ADMIN_PASSWORD }));
    const me = resultOf(await rpc(srv.url, 'AuthInterface', 'getLoggedInUser', {}, token));
    assert.equal(me.username, ADMIN_USER);
    await new Promise((resolve) => setTimeout(resolve, 1300));
    const exc = exceptionOf(await rpc(srv.url, 'AuthInterface', 'getLoggedInUser', {}, token));
    assert.equal(exc.__type, 'AuthenticationException');
    assert.equal(exc.message, 'This token has expired');
    assert.equal(exc.errorCode, 3);
  });
});

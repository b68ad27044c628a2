// The outbound guard (src/outbound): checkinFromUrl, calls to remote services and the
// delivery engine go through one client that resolves once, checks every address against
// the address classes and --service-allow, pins the connection, re-checks every redirect,
// and gives the same error for every refused or unreachable target without quoting what a
// URL answered. Every server here is on loopback (127.0.0.1, 127.0.0.2, ::1); with an empty
// allow list each of them is "internal", and the tests check that none of them receives a
// request.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';

import { exceptionOf, resultOf, rpc } from './lib/client.mjs';
import { api, fetchBytes, loginToken, pluginOids, sha256, sharedIfcFiles, waitProgress } from './lib/checkin.mjs';
import { refusedPort, SERVICE_ID, startFakeService } from './lib/fake-service.mjs';
import { ADMIN_PASSWORD, ADMIN_USER, startServer } from './lib/server.mjs';

const UNREACHABLE = 'Cannot fetch the URL: it is not reachable or not allowed';
const HIDDEN = 'The file at the URL is not an IFC model this project can take';
const SECRET = `SECRET-${crypto.randomBytes(8).toString('hex')}`;
const IFC_FILE = sharedIfcFiles().find((f) => f.name === 'Sample_entities.ifc');
const IFC = fs.readFileSync(IFC_FILE.path);

/** An HTTP server on host that records requests; routes: path → (req, res) or a body. */
async function startTarget(host, routes = {})
{
  const t = { requests: [], sockets: new Set() };
  const server = http.createServer((req, res) => {
    t.requests.push({ method: req.method, url: req.url, host: req.headers.host });
    const r = routes[new URL(req.url, 'http://x').pathname];
    if (typeof r === 'function') return r(req, res);
    if (r !== undefined) {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      return res.end(r);
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    return res.end(`not found ${SECRET}`);
  });
  server.on('connection', (s) => {
    t.sockets.add(s);
    s.on('close', () => t.sockets.delete(s));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  t.port = server.address().port;
  t.origin = host.includes(':') ? `http://[${host}]:${t.port}` : `http://${host}:${t.port}`;
  t.close = () => new Promise((resolve) => {
    for (const s of t.sockets) s.destroy();
    server.close(() => resolve());
  });
  return t;
}

/** A TCP server on 127.0.0.1 that is not HTTP: greets like SSH and closes, or says nothing. */
async function startNotHttp({ silent = false } = {})
{
  const sockets = new Set();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    if (!silent) s.end('SSH-2.0-OpenSSH_9.2 not-http\r\n');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: server.address().port,
    close: () => new Promise((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

/** An SService for addServiceToProject, at url. */
function sService(url, name)
{
  return {
    __type: 'SService', name, serviceName: name, serviceIdentifier: SERVICE_ID, providerName: 'ACME',
    url, token: 'T', notificationProtocol: 'JSON', description: '', trigger: 'NEW_REVISION',
    readRevision: true, readExtendedDataId: -1, writeRevisionId: -1, writeExtendedDataId: -1,
    profileIdentifier: 'default', profileName: 'Default', profileDescription: '', profilePublic: true,
  };
}

/** A bimhub with its admin and the helpers the tests share. */
async function setup(args)
{
  const srv = await startServer({ args: ['--fetch-timeout-s', '3', '--fetch-connect-timeout-s', '2',
    '--service-timeout-ms', '1500', '--service-connect-timeout-ms', '1000', ...args] });
  const token = await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD);
  const a = api(srv.url, token);
  const des = (await pluginOids(a)).des['Ifc2x3tc1 (Streaming)'];
  let n = 0;
  const e = {
    srv, a, token,
    project: () => a.svc('addProject', { projectName: `p${++n}`, schema: 'ifc2x3tc1' }),
    /** checkinFromUrl{Sync,Async}: {exc} or the final long action state {st}. */
    async fromUrl(url, sync) {
      const p = await e.project();
      const params = { poid: p.oid, comment: 'from url', deserializerOid: des, fileName: 'f.ifc', url, merge: false };
      const r = await a.raw('ServiceInterface', sync ? 'checkinFromUrlSync' : 'checkinFromUrlAsync', params);
      const out = { poid: p.oid, raw: JSON.stringify(r) };
      if (r.response.exception) return { ...out, exc: r.response.exception };
      out.st = sync ? r.response.result : await waitProgress(a, r.response.result, { timeoutMs: 20000 });
      assert.equal((await a.svc('getProjectByPoid', { poid: p.oid })).checkinInProgress, 0, 'lock released');
      return out;
    },
    /** getServiceDescriptor or getAllPublicProfiles at url: the raw reply. */
    provider: (method, url) => rpc(srv.url, 'ServiceInterface', method, method === 'getServiceDescriptor'
      ? { baseUrl: url, serviceIdentifier: SERVICE_ID } : { notificationsUrl: url, serviceIdentifier: SERVICE_ID }, token),
  };
  return e;
}

/** The check-in failed with exactly the guard's error, quoting nothing it fetched. */
function assertUnreachable(out, what)
{
  assert.ok(!out.exc, `${what}: an exception instead of a failed check-in: ${out.raw}`);
  assert.equal(out.st.state, 'AS_ERROR', `${what}: ${JSON.stringify(out.st)}`);
  assert.equal(out.st.title, UNREACHABLE, `${what}: ${JSON.stringify(out.st)}`);
  assert.deepEqual(out.st.errors, [UNREACHABLE], `${what}: ${JSON.stringify(out.st)}`);
  assert.ok(!out.raw.includes('SECRET') && !JSON.stringify(out.st).includes('SECRET'), `${what}: quotes the answer`);
}

// ---------------------------------------------------------------------------------------
describe('outbound: an empty --service-allow refuses every loopback spelling', () => {
  let e;
  let v4;
  let v6;
  before(async () => {
    e = await setup(['--service-allow', '']);
    const routes = { '/model.ifc': IFC, '/secret': `${SECRET}\n` };
    v4 = await startTarget('127.0.0.1', routes);
    v6 = await startTarget('::1', routes);
  });
  after(async () => {
    await v4?.close();
    await v6?.close();
    await e?.srv.stop();
  });

  const forms = () => {
    const P = v4.port;
    return [
      `http://127.1:${P}/model.ifc`, `http://2130706433:${P}/model.ifc`, `http://0x7f000001:${P}/model.ifc`,
      `http://0177.0.0.1:${P}/model.ifc`, `http://0x7f.1:${P}/model.ifc`, `http://localhost:${P}/model.ifc`,
      `http://LOCALHOST.:${P}/secret`, `http://[::1]:${v6.port}/model.ifc`, `http://[::ffff:127.0.0.1]:${P}/model.ifc`,
      `http://[::ffff:7f00:1]:${P}/secret`, `http://0.0.0.0:${P}/model.ifc`, `http://127.0.0.1:${P}/secret`,
    ];
  };
  const userinfo = () => {
    const P = v4.port;
    return [`http://user@127.0.0.1:${P}/model.ifc`, `http://user:pw@127.0.0.1:${P}/model.ifc`,
      `http://127.0.0.1:${P}@127.0.0.1:${P}/model.ifc`, `http://127.0.0.1:${P}@localhost:${P}/model.ifc`,
      `http://127.0.0.1:${P}\\@localhost:${P}/secret`];
  };

  for (const sync of [true, false]) {
    const m = sync ? 'checkinFromUrlSync' : 'checkinFromUrlAsync';
    test(`${m}: 127.1, 2130706433, 0x7f000001, 0177.0.0.1, 0x7f.1, localhost, [::1], [::ffff:127.0.0.1], 0.0.0.0 are refused; no request is made`, async () => {
      for (const url of forms()) {
        assertUnreachable(await e.fromUrl(url, sync), url);
      }
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(v4.requests, [], 'the 127.0.0.1 server was asked');
      assert.deepEqual(v6.requests, [], 'the ::1 server was asked');
    });

    test(`${m}: a URL with user information is refused before anything is fetched`, async () => {
      for (const url of userinfo()) {
        const out = await e.fromUrl(url, sync);
        assert.ok(out.exc || out.st.state === 'AS_ERROR', `${url}: ${out.raw}`);
        if (out.exc) assert.match(out.exc.message, /user name or password/, url);
        else assert.equal(out.st.title, UNREACHABLE, url);
        assert.equal((await e.a.svc('getAllRevisionsOfProject', { poid: out.poid })).length, 0, url);
      }
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(v4.requests, [], 'the 127.0.0.1 server was asked');
    });
  }

  test('getServiceDescriptor and getAllPublicProfiles: the same error for every spelling, nothing sent', async () => {
    for (const method of ['getServiceDescriptor', 'getAllPublicProfiles']) {
      for (const url of [...forms(), `http://169.254.169.254:${v4.port}/x`, `http://[fe80::1]:${v4.port}/x`]) {
        const exc = exceptionOf(await e.provider(method, url.replace(/\/[^/]*$/, '')), `${method} ${url}`);
        assert.equal(exc.message, UNREACHABLE, `${method} ${url}`);
      }
    }
    assert.deepEqual(v4.requests, []);
    assert.deepEqual(v6.requests, []);
  });
});

// ---------------------------------------------------------------------------------------
describe('outbound: no port-state oracle (--service-allow 127.0.0.0/8)', () => {
  let e;
  let web;
  let ssh;
  let mute;
  before(async () => {
    e = await setup(['--service-allow', '127.0.0.0/8']);
    web = await startTarget('127.0.0.1', { '/redirect-loop': (req, res) => {
      res.writeHead(302, { Location: '/redirect-loop' });
      res.end();
    } });
    ssh = await startNotHttp();
    mute = await startNotHttp({ silent: true });
  });
  after(async () => {
    await web?.close();
    await ssh?.close();
    await mute?.close();
    await e?.srv.stop();
  });

  test('closed port, open non-HTTP port, silent port, HTTP 404, redirect loop, refused address: one error', async () => {
    const closed = await refusedPort();
    const cases = [
      ['closed port', `http://127.0.0.1:${closed}/x.ifc`],
      ['open port, not HTTP', `http://127.0.0.1:${ssh.port}/x.ifc`],
      ['open port, silent', `http://127.0.0.1:${mute.port}/x.ifc`],
      ['HTTP 404 with a body', `${web.origin}/missing.ifc`],
      ['endless redirects', `${web.origin}/redirect-loop`],
      ['link-local (refused whatever the allow list)', 'http://169.254.169.254/latest/meta-data'],
      ['unspecified', `http://0.0.0.0:${web.port}/x.ifc`],
    ];
    const times = {};
    for (const sync of [true, false]) {
      for (const [what, url] of cases) {
        const t0 = Date.now();
        const out = await e.fromUrl(url, sync);
        times[`${what}${sync ? ' (sync)' : ''}`] = Date.now() - t0;
        assertUnreachable(out, `${what} (${sync ? 'sync' : 'async'})`);
      }
    }
    console.log(`# checkinFromUrl failure times (ms): ${JSON.stringify(times)}`);
    for (const method of ['getServiceDescriptor', 'getAllPublicProfiles']) {
      for (const [what, url] of cases) {
        const exc = exceptionOf(await e.provider(method, url.replace(/\/[^/]*$/, '')), `${method} ${what}`);
        assert.equal(exc.message, UNREACHABLE, `${method} ${what}`);
      }
    }
  });

  test('notifications: the delivery log records the same error for a closed, a non-HTTP and a silent port', async () => {
    const closed = await refusedPort();
    const p = await e.project();
    const soids = {};
    for (const [what, url] of [['closed', `http://127.0.0.1:${closed}`], ['not HTTP', `http://127.0.0.1:${ssh.port}`],
      ['silent', `http://127.0.0.1:${mute.port}`], ['link-local', 'http://169.254.169.254']]) {
      soids[what] = await e.a.svc('addServiceToProject', { poid: p.oid, sService: sService(url, what) });
    }
    const des = (await pluginOids(e.a)).des['Ifc2x3tc1 (Streaming)'];
    const st = await e.a.svc('checkinSync', { poid: p.oid, comment: 'c', deserializerOid: des, fileSize: IFC.length,
      fileName: 'm.ifc', data: IFC.toString('base64'), merge: false });
    assert.equal(st.state, 'FINISHED', JSON.stringify(st));
    for (const [what, soid] of Object.entries(soids)) {
      const end = Date.now() + 10000;
      let d;
      while (Date.now() < end) {
        [d] = await e.a.call('DeliveryInterface', 'listDeliveries', { soid });
        if (d && d.attempts >= 1) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(d && d.attempts >= 1, `${what}: no attempt recorded: ${JSON.stringify(d)}`);
      assert.equal(d.lastError, UNREACHABLE, `${what}: ${JSON.stringify(d)}`);
    }
  });
});

// ---------------------------------------------------------------------------------------
describe('outbound: redirects are followed only through the guard (--service-allow 127.0.0.2/32)', () => {
  let e;
  let inside;  // 127.0.0.1: not allowed
  let outside; // 127.0.0.2: allowed
  before(async () => {
    e = await setup(['--service-allow', '127.0.0.2/32']);
    inside = await startTarget('127.0.0.1', { '/model.ifc': IFC, '/secret': `${SECRET}\n` });
    const to = (loc) => (req, res) => {
      res.writeHead(302, { Location: loc() });
      res.end();
    };
    outside = await startTarget('127.0.0.2', {
      '/model.ifc': IFC,
      '/secret': `${SECRET}\n`,
      '/not-ifc.ifc': `ISO-10303-21;\nHEADER;\n${SECRET};\nENDSEC;\n`,
      '/to-inside': to(() => `http://127.0.0.1:${inside.port}/model.ifc`),
      '/to-inside-numeric': to(() => `http://2130706433:${inside.port}/secret`),
      '/to-inside-userinfo': to(() => `http://127.0.0.2:${outside.port}@127.0.0.1:${inside.port}/model.ifc`),
      '/to-file': to(() => 'file:///etc/passwd'),
      '/to-self': to(() => '/model.ifc'),
      '/to-self-2': to(() => `http://127.0.0.2:${outside.port}/to-self`),
    });
  });
  after(async () => {
    await inside?.close();
    await outside?.close();
    await e?.srv.stop();
  });

  test('a redirect from the allowed 127.0.0.2 to 127.0.0.1 (any spelling) is refused; 127.0.0.1 sees nothing', async () => {
    for (const sync of [true, false]) {
      for (const path of ['/to-inside', '/to-inside-numeric', '/to-inside-userinfo', '/to-file']) {
        assertUnreachable(await e.fromUrl(`${outside.origin}${path}`, sync), path);
      }
    }
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(inside.requests, [], 'the not-allowed server was asked');
  });

  test('a direct URL at 127.0.0.1 is refused too, while 127.0.0.2 is allowed', async () => {
    assertUnreachable(await e.fromUrl(`${inside.origin}/model.ifc`, true), '127.0.0.1');
    assert.deepEqual(inside.requests, []);
  });

  test('redirects within the allow list are followed (two hops), the revision is the file byte for byte', async () => {
    for (const sync of [true, false]) {
      for (const path of ['/model.ifc', '/to-self-2']) {
        const out = await e.fromUrl(`${outside.origin}${path}`, sync);
        assert.equal(out.st?.state, 'FINISHED', `${path}: ${out.raw} ${JSON.stringify(out.st)}`);
        const dl = await e.a.svc('download', { roids: [out.st.roid], query: '{}',
          serializerOid: (await pluginOids(e.a)).ser['Ifc (Streaming)'], sync: true });
        const res = await fetchBytes(`${e.srv.url}/download?token=${e.token}&topicId=${dl}`);
        assert.equal(res.status, 200);
        assert.equal(sha256(res.body), sha256(IFC), `${path}: downloaded bytes differ`);
      }
    }
  });

  test('an allowed URL answering something that is not IFC: a content-free error, nothing of it quoted', async () => {
    for (const sync of [true, false]) {
      for (const path of ['/secret', '/not-ifc.ifc']) {
        const out = await e.fromUrl(`${outside.origin}${path}`, sync);
        assert.equal(out.st?.state, 'AS_ERROR', `${path}: ${out.raw}`);
        assert.equal(out.st.title, HIDDEN, `${path}: ${JSON.stringify(out.st)}`);
        assert.ok(!out.raw.includes('SECRET') && !JSON.stringify(out.st).includes('SECRET'), `${path}: quotes the answer`);
        assert.equal((await e.a.svc('getAllRevisionsOfProject', { poid: out.poid })).length, 0);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------
describe('outbound: a service at an IPv6 literal (--service-allow ::1/128)', () => {
  let e;
  let fake;
  let got;
  before(async () => {
    e = await setup(['--service-allow', '::1/128']);
    fake = await startFakeService();
    // the fake service on ::1 as well: the same handler, its own recorder
    got = [];
    const v6 = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        got.push({ path: req.url, host: req.headers.host, json: JSON.parse(body || 'null') });
        const proxy = http.request({ host: '127.0.0.1', port: fake.port, path: req.url, method: req.method,
          headers: { 'content-type': 'application/json' } }, (pr) => {
          const out = [];
          pr.on('data', (c) => out.push(c));
          pr.on('end', () => {
            res.writeHead(pr.statusCode, { 'Content-Type': 'application/json' });
            res.end(Buffer.concat(out));
          });
        });
        proxy.end(body);
      });
    });
    await new Promise((r) => v6.listen(0, '::1', r));
    e.v6 = v6;
    e.v6url = `http://[::1]:${v6.address().port}`;
  });
  after(async () => {
    e?.v6?.closeAllConnections?.();
    if (e?.v6) await new Promise((r) => e.v6.close(r));
    await fake?.close();
    await e?.srv.stop();
  });

  test('getServiceDescriptor at http://[::1]:PORT answers the descriptor', async () => {
    const d = resultOf(await e.provider('getServiceDescriptor', e.v6url), 'getServiceDescriptor [::1]');
    assert.equal(d.__type, 'SServiceDescriptor');
    assert.equal(d.url, e.v6url);
    assert.equal(got.at(-1).path, '/json');
  });

  test('a service at http://[::1]:PORT gets its newRevision notification', async () => {
    const p = await e.project();
    await e.a.svc('addServiceToProject', { poid: p.oid, sService: sService(e.v6url, 'v6') });
    const des = (await pluginOids(e.a)).des['Ifc2x3tc1 (Streaming)'];
    const st = await e.a.svc('checkinSync', { poid: p.oid, comment: 'v6', deserializerOid: des, fileSize: IFC.length,
      fileName: 'm.ifc', data: IFC.toString('base64'), merge: false });
    assert.equal(st.state, 'FINISHED', JSON.stringify(st));
    const end = Date.now() + 10000;
    let n;
    while (Date.now() < end) {
      n = got.find((g) => g.json?.request?.method === 'newRevision');
      if (n) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(n, `no newRevision at ${e.v6url}: got ${JSON.stringify(got.map((g) => g.json?.request?.method))}`);
    assert.equal(n.json.request.parameters.roid, st.roid);
    assert.equal(n.host, e.v6url.slice('http://'.length));
  });

  test('127.0.0.1 is not in this allow list: the same service on IPv4 is refused', async () => {
    const exc = exceptionOf(await e.provider('getServiceDescriptor', fake.url), 'getServiceDescriptor 127.0.0.1');
    assert.equal(exc.message, UNREACHABLE);
  });
});

// Remote services through ServiceInterface (spec §4.4 "Services", §4.8, §5, §8.1, §8.2):
// addServiceToProject / getAllServicesOfProject / getService / deleteService /
// removeServiceFromProject, the calls that go out to a provider (getServiceDescriptor,
// getAllPublicProfiles, getAllPrivateProfiles), getAllServiceDescriptors, and the SSRF guard on
// those outgoing calls. The provider is lib/fake-service.mjs. Calls go through bimserverapi's
// generic client.call (the package has no service-specific calls), raw /json where the test
// needs the exact reply or a timing.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import { call, callError, closeClient, exceptionOf, loggedInClient, resultOf, rpc } from './lib/client.mjs';
import { descriptorOf, publicProfilesOf, refusedPort, SERVICE_ID, startFakeService } from './lib/fake-service.mjs';
import { ADMIN_PASSWORD, ADMIN_USER, startServer } from './lib/server.mjs';

const SERVICE_TIMEOUT_MS = 1500;
const BOB = 'bob-services@bimhub.test';
const BOB_PW = 'bob-services-secret-1';
const CAROL = 'carol-services@bimhub.test';
const CAROL_PW = 'carol-services-secret-1';

/** Every field of SService (spec §5), std fields included, in output order. */
const SSERVICE_FIELDS = ['description', 'internalServiceId', 'modelCheckers', 'name',
  'notificationProtocol', 'oid', 'profileDescription', 'profileIdentifier', 'profileName',
  'profilePublic', 'projectId', 'providerName', 'readExtendedDataId', 'readRevision', 'rid',
  'serviceIdentifier', 'serviceName', 'token', 'trigger', 'url', 'userId', 'uuid',
  'writeExtendedDataId', 'writeRevisionId'];

const SDESCRIPTOR_FIELDS = ['authorizeUrl', 'companyUrl', 'description', 'identifier', 'name',
  'newProfileUrl', 'notificationProtocol', 'providerName', 'readExtendedData', 'readRevision',
  'registerUrl', 'token', 'tokenUrl', 'trigger', 'url', 'writeExtendedData', 'writeRevision'];

const SMALL_IFC = [
  'ISO-10303-21;', 'HEADER;', "FILE_DESCRIPTION(('ViewDefinition [CoordinationView]'),'2;1');",
  "FILE_NAME('svc.ifc','2024-01-01T00:00:00',('bimhub'),('bimhub'),'','bimhub','');",
  "FILE_SCHEMA(('IFC2X3'));", 'ENDSEC;', 'DATA;',
  "#1=IFCPERSON($,'Doe','John',$,$,$,$,$);",
  "#2=IFCORGANIZATION($,'bimhub',$,$,$);",
  '#3=IFCPERSONANDORGANIZATION(#1,#2,$);',
  'ENDSEC;', 'END-ISO-10303-21;', ''].join('\n');

/** The example SService of spec §8.2, pointed at url. */
function sService(url, over = {})
{
  return {
    __type: 'SService', name: 'Clash check', serviceName: 'Clash detector',
    serviceIdentifier: SERVICE_ID, providerName: 'ACME', url, token: 'ACME-USER-TOKEN',
    notificationProtocol: 'JSON', description: 'Checks for clashes', trigger: 'NEW_REVISION',
    readRevision: true, readExtendedDataId: -1, writeRevisionId: -1, writeExtendedDataId: -1,
    profileIdentifier: 'default', profileName: 'Default', profileDescription: '',
    profilePublic: true, ...over,
  };
}

function without(obj, key)
{
  const o = { ...obj };
  delete o[key];
  return o;
}

function assertUserException(exc, re, what)
{
  assert.equal(exc.__type, 'UserException', `${what}: expected a UserException, got ${JSON.stringify(exc)}`);
  assert.equal(typeof exc.message, 'string', `${what}: message`);
  assert.ok(exc.message.length > 0, `${what}: empty message`);
  if (re) assert.match(exc.message, re, `${what}: message ${JSON.stringify(exc.message)}`);
}

function assertSortedAfterType(obj, what)
{
  const keys = Object.keys(obj);
  assert.equal(keys[0], '__type', `${what}: __type first; keys ${keys.join(',')}`);
  const rest = keys.slice(1);
  const sorted = [...rest].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  assert.deepEqual(rest, sorted, `${what}: keys after __type not sorted`);
}

/** Raw /json call; returns {reply, ms}. */
async function timedRpc(url, iface, method, params, token)
{
  const t0 = Date.now();
  const reply = await rpc(url, iface, method, params, token);
  return { reply, ms: Date.now() - t0 };
}

describe('services', () => {
  let srv;
  let fake;
  let admin;        // bimserverapi client, admin
  let adminToken;
  let adminUoid;
  let bob;          // user without rights on `project`
  let bobToken;
  let bobUoid;
  let carolToken;   // user with rights on `shared`
  let carolUoid;
  let project;      // admin's project, services are added here
  let other;        // second admin project
  let shared;       // admin's project on which carol has rights

  const svc = (method, params, opts) => call(admin, 'ServiceInterface', method, params, opts);
  const svcErr = (method, params, opts) => callError(admin, 'ServiceInterface', method, params, opts);
  const ANON = Symbol('anonymous');
  // raw(method, params[, token]): token defaults to the admin's; ANON sends none.
  const raw = (method, params, token = adminToken) =>
    rpc(srv.url, 'ServiceInterface', method, params, token === ANON ? undefined : token);
  const alive = async () => {
    const info = resultOf(await rpc(srv.url, 'AdminInterface', 'getServerInfo', {}), 'getServerInfo');
    assert.equal(info.serverState, 'RUNNING');
  };

  before(async () => {
    fake = await startFakeService();
    srv = await startServer({ args: ['--service-timeout-ms', String(SERVICE_TIMEOUT_MS)] });
    ({ client: admin, token: adminToken } = await loggedInClient(srv.url, ADMIN_USER, ADMIN_PASSWORD));
    adminUoid = (await call(admin, 'AuthInterface', 'getLoggedInUser', {})).oid;
    project = await svc('addProject', { projectName: 'svc-project', schema: 'ifc2x3tc1' });
    other = await svc('addProject', { projectName: 'svc-other', schema: 'ifc2x3tc1' });
    shared = await svc('addProject', { projectName: 'svc-shared', schema: 'ifc2x3tc1' });
    for (const [u, p, name] of [[BOB, BOB_PW, 'Bob'], [CAROL, CAROL_PW, 'Carol']]) {
      await svc('addUserWithPassword', { username: u, password: p, name, type: 'USER',
        selfRegistration: false, resetUrl: '' });
    }
    bobToken = resultOf(await rpc(srv.url, 'AuthInterface', 'login', { username: BOB, password: BOB_PW }));
    carolToken = resultOf(await rpc(srv.url, 'AuthInterface', 'login', { username: CAROL, password: CAROL_PW }));
    bobUoid = resultOf(await rpc(srv.url, 'AuthInterface', 'getLoggedInUser', {}, bobToken)).oid;
    carolUoid = resultOf(await rpc(srv.url, 'AuthInterface', 'getLoggedInUser', {}, carolToken)).oid;
    await svc('addUserToProject', { uoid: carolUoid, poid: shared.oid });
  });
  after(async () => {
    if (admin) await closeClient(admin);
    if (srv) await srv.stop();
    if (fake) await fake.close();
  });

  // -------------------------------------------------------------------------------------
  describe('addServiceToProject and the stored SService', () => {
    let soid;
    let given;

    test('addServiceToProject returns the soid (a number) and does not contact the service', async () => {
      fake.clear();
      given = sService(fake.url);
      soid = await svc('addServiceToProject', { poid: project.oid, sService: given });
      assert.equal(typeof soid, 'number', `soid: ${JSON.stringify(soid)}`);
      assert.ok(soid > 0, `soid ${soid}`);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(fake.requests, [], 'the provider was contacted');
    });

    test('getAllServicesOfProject lists it with every field given plus oid, projectId, userId', async () => {
      assert.ok(soid, 'needs the service of the previous test');
      const list = await svc('getAllServicesOfProject', { poid: project.oid });
      assert.ok(Array.isArray(list), `not an array: ${JSON.stringify(list)}`);
      assert.equal(list.length, 1, JSON.stringify(list));
      const s = list[0];
      assert.equal(s.__type, 'SService');
      for (const [k, v] of Object.entries(given)) {
        assert.deepEqual(s[k], v, `field ${k}: ${JSON.stringify(s[k])}, given ${JSON.stringify(v)}`);
      }
      assert.equal(s.oid, soid);
      assert.equal(s.projectId, project.oid);
      assert.equal(s.userId, adminUoid);
      const missing = SSERVICE_FIELDS.filter((f) => !(f in s));
      assert.deepEqual(missing, [], `SService lacks fields; got ${JSON.stringify(s)}`);
      assertSortedAfterType(s, 'SService');
    });

    test('getAllServicesOfProject over raw /json: keys sorted after __type', async () => {
      const list = resultOf(await raw('getAllServicesOfProject', { poid: project.oid }));
      assert.equal(list.length, 1);
      assertSortedAfterType(list[0], 'SService (raw)');
    });

    test('getService(soid) returns the same SService', async () => {
      const list = await svc('getAllServicesOfProject', { poid: project.oid });
      const s = await svc('getService', { soid });
      assert.deepEqual(s, list[0]);
    });

    test('SProject.services lists the soid', async () => {
      const p = await svc('getProjectByPoid', { poid: project.oid });
      assert.deepEqual(p.services, [soid], JSON.stringify(p));
    });

    test('the same name on another project is fine', async () => {
      const s2 = await svc('addServiceToProject', { poid: other.oid, sService: sService(fake.url) });
      assert.equal(typeof s2, 'number');
      assert.notEqual(s2, soid);
      const list = await svc('getAllServicesOfProject', { poid: other.oid });
      assert.deepEqual(list.map((x) => x.oid), [s2]);
      assert.equal(list[0].projectId, other.oid);
      await svc('deleteService', { oid: s2 });
    });

    test('the other triggers NEW_PROJECT and NEW_EXTENDED_DATA and an https url are accepted', async () => {
      const tmp = await svc('addProject', { projectName: 'svc-triggers', schema: 'ifc4' });
      const a = await svc('addServiceToProject', { poid: tmp.oid,
        sService: sService(fake.url, { name: 'On project', trigger: 'NEW_PROJECT' }) });
      const b = await svc('addServiceToProject', { poid: tmp.oid,
        sService: sService('https://acme.example:8443/base', { name: 'On ED', trigger: 'NEW_EXTENDED_DATA' }) });
      const list = await svc('getAllServicesOfProject', { poid: tmp.oid });
      const byOid = Object.fromEntries(list.map((x) => [x.oid, x]));
      assert.equal(list.length, 2, JSON.stringify(list));
      assert.equal(byOid[a].trigger, 'NEW_PROJECT');
      assert.equal(byOid[b].trigger, 'NEW_EXTENDED_DATA');
      assert.equal(byOid[b].url, 'https://acme.example:8443/base');
    });

    const invalid = [
      ['name missing', () => without(sService(fake.url), 'name'), /Service name/],
      ['name empty', () => sService(fake.url, { name: '' }), /Service name/],
      ['name only blanks', () => sService(fake.url, { name: '   ' }), /Service name/],
      ['name already used on the project', () => sService(fake.url), /unique/],
      ['url ftp://', () => sService('ftp://127.0.0.1/x', { name: 'bad url 1' }), /http/],
      ['url file://', () => sService('file:///etc/passwd', { name: 'bad url 2' }), /http/],
      ['url without scheme', () => sService('127.0.0.1:8081', { name: 'bad url 3' }), /http/],
      ['trigger missing', () => without(sService(fake.url, { name: 'no trigger' }), 'trigger'), null],
      ['trigger unknown', () => sService(fake.url, { name: 'bad trigger', trigger: 'ON_TUESDAY' }), null],
      ['notificationProtocol missing',
        () => without(sService(fake.url, { name: 'no protocol' }), 'notificationProtocol'), null],
      ['notificationProtocol SOAP', () => sService(fake.url, { name: 'soap', notificationProtocol: 'SOAP' }), null],
      ['notificationProtocol INTERNAL',
        () => sService(fake.url, { name: 'internal', notificationProtocol: 'INTERNAL' }), /internal.*not supported/i],
      ['sService null', () => null, null],
      ['sService {}', () => ({}), null],
      ['sService without __type', () => without(sService(fake.url, { name: 'no type' }), '__type'), null],
    ];
    for (const [what, make, re] of invalid) {
      test(`addServiceToProject refuses: ${what} (UserException, nothing stored, server alive)`, async () => {
        assert.ok(soid, 'needs the service of the first test');
        fake.clear();
        const before = resultOf(await raw('getAllServicesOfProject', { poid: project.oid })).map((x) => x.oid);
        const reply = await raw('addServiceToProject', { poid: project.oid, sService: make() });
        const created = reply?.response?.result;
        if (typeof created === 'number') await raw('deleteService', { oid: created }); // keep later tests independent
        const exc = exceptionOf(reply, `addServiceToProject (${what})`);
        assertUserException(exc, re, what);
        const list = resultOf(await raw('getAllServicesOfProject', { poid: project.oid }));
        assert.deepEqual(list.map((x) => x.oid), before, 'nothing stored');
        assert.deepEqual(fake.requests, []);
        await alive();
      });
    }

    test('addServiceToProject on an unknown poid is refused', async () => {
      const exc = exceptionOf(await raw('addServiceToProject',
        { poid: project.oid + 1000000, sService: sService(fake.url, { name: 'nowhere' }) }));
      assertUserException(exc, null, 'unknown poid');
    });

    test('anonymous: addServiceToProject, getAllServicesOfProject, getService are refused', async () => {
      for (const [m, p] of [['addServiceToProject', { poid: project.oid, sService: sService(fake.url, { name: 'anon' }) }],
        ['getAllServicesOfProject', { poid: project.oid }], ['getService', { soid }]]) {
        const exc = exceptionOf(await raw(m, p, ANON), `anonymous ${m}`);
        assert.match(exc.message, /Authentication required/, `${m}: ${exc.message}`);
      }
    });

    test('a user without rights cannot add, list or get the project\'s services', async () => {
      const add = exceptionOf(await raw('addServiceToProject',
        { poid: project.oid, sService: sService(fake.url, { name: 'by bob' }) }, bobToken), 'bob add');
      assertUserException(add, null, 'bob addServiceToProject');
      const list = exceptionOf(await raw('getAllServicesOfProject', { poid: project.oid }, bobToken), 'bob list');
      assert.equal(typeof list.message, 'string');
      const get = exceptionOf(await raw('getService', { soid }, bobToken), 'bob getService');
      assert.equal(typeof get.message, 'string');
      const del = exceptionOf(await raw('deleteService', { oid: soid }, bobToken), 'bob deleteService');
      assert.equal(typeof del.message, 'string');
      const rm = exceptionOf(await raw('removeServiceFromProject', { poid: project.oid, serviceOid: soid }, bobToken),
        'bob removeServiceFromProject');
      assert.equal(typeof rm.message, 'string');
      const still = resultOf(await raw('getAllServicesOfProject', { poid: project.oid }));
      assert.deepEqual(still.map((x) => x.oid), [soid], 'bob removed nothing');
    });

    test('a user with rights adds a service: userId is that user\'s uoid', async () => {
      const s = resultOf(await raw('addServiceToProject',
        { poid: shared.oid, sService: sService(fake.url, { name: 'by carol' }) }, carolToken), 'carol add');
      assert.equal(typeof s, 'number');
      const got = resultOf(await raw('getService', { soid: s }, carolToken), 'carol getService');
      assert.equal(got.userId, carolUoid);
      assert.equal(got.projectId, shared.oid);
      const list = resultOf(await raw('getAllServicesOfProject', { poid: shared.oid }, carolToken));
      assert.deepEqual(list.map((x) => x.oid), [s]);
    });

    test('a service token is refused by addServiceToProject (needs a real login)', async (t) => {
      // The only way to get a service token is a newRevision call to a service (§8.5).
      const tmp = await svc('addProject', { projectName: 'svc-token-source', schema: 'ifc2x3tc1' });
      await svc('addServiceToProject', { poid: tmp.oid,
        sService: sService(fake.url, { name: 'token source', writeRevisionId: tmp.oid }) });
      const des = await call(admin, 'PluginInterface', 'getAllDeserializers', { onlyEnabled: true });
      const d = des.find((x) => x.name === 'Ifc2x3tc1 (Streaming)');
      fake.clear();
      const st = await svc('checkinSync', { poid: tmp.oid, comment: 'for a service token',
        deserializerOid: d.oid, fileSize: SMALL_IFC.length, fileName: 'svc.ifc',
        data: Buffer.from(SMALL_IFC).toString('base64'), merge: false });
      assert.equal(st.state, 'FINISHED', JSON.stringify(st));
      const got = await fake.waitFor((rs) => rs.some((r) => r.json?.request?.method === 'newRevision'), 5000);
      if (!got) {
        t.skip('no newRevision reached the fake service (notifications not implemented), so no service token');
        return;
      }
      const token = fake.requests.find((r) => r.json?.request?.method === 'newRevision').json.request.parameters.token;
      const exc = exceptionOf(await raw('addServiceToProject',
        { poid: tmp.oid, sService: sService(fake.url, { name: 'by a service' }) }, token), 'service-token add');
      assert.match(exc.message, /Real authentication required/);
    });
  });

  // -------------------------------------------------------------------------------------
  describe('deleteService and removeServiceFromProject', () => {
    test('deleteService: void, then getService fails and the list is empty', async () => {
      const p = await svc('addProject', { projectName: 'svc-delete', schema: 'ifc2x3tc1' });
      const s = await svc('addServiceToProject', { poid: p.oid, sService: sService(fake.url) });
      const reply = await raw('deleteService', { oid: s });
      assert.deepEqual(reply, { response: { result: {} } });
      const exc = exceptionOf(await raw('getService', { soid: s }), 'getService after deleteService');
      assert.equal(typeof exc.message, 'string');
      assert.deepEqual(await svc('getAllServicesOfProject', { poid: p.oid }), []);
      const proj = await svc('getProjectByPoid', { poid: p.oid });
      assert.deepEqual(proj.services, []);
      // The name is free again.
      const again = await svc('addServiceToProject', { poid: p.oid, sService: sService(fake.url) });
      assert.equal(typeof again, 'number');
    });

    test('deleteService of an unknown or already deleted oid fails', async () => {
      const p = await svc('addProject', { projectName: 'svc-delete-twice', schema: 'ifc2x3tc1' });
      const s = await svc('addServiceToProject', { poid: p.oid, sService: sService(fake.url) });
      await svc('deleteService', { oid: s });
      exceptionOf(await raw('deleteService', { oid: s }), 'second deleteService');
      exceptionOf(await raw('deleteService', { oid: 987654321 }), 'deleteService unknown');
      await alive();
    });

    test('removeServiceFromProject: fails with another project\'s poid, works with its own', async () => {
      const p = await svc('addProject', { projectName: 'svc-remove', schema: 'ifc2x3tc1' });
      const q = await svc('addProject', { projectName: 'svc-remove-other', schema: 'ifc2x3tc1' });
      const s = await svc('addServiceToProject', { poid: p.oid, sService: sService(fake.url) });
      const wrong = exceptionOf(await raw('removeServiceFromProject', { poid: q.oid, serviceOid: s }),
        'removeServiceFromProject with another project');
      assert.equal(typeof wrong.message, 'string');
      assert.deepEqual((await svc('getAllServicesOfProject', { poid: p.oid })).map((x) => x.oid), [s],
        'still there after the refused remove');
      const reply = await raw('removeServiceFromProject', { poid: p.oid, serviceOid: s });
      assert.deepEqual(reply, { response: { result: {} } });
      assert.deepEqual(await svc('getAllServicesOfProject', { poid: p.oid }), []);
      exceptionOf(await raw('getService', { soid: s }), 'getService after removeServiceFromProject');
      assert.deepEqual((await svc('getProjectByPoid', { poid: p.oid })).services, []);
    });
  });

  // -------------------------------------------------------------------------------------
  describe('getServiceDescriptor (calls the provider)', () => {
    test('POSTs RemoteServiceInterface.getService to <baseUrl>/json and returns the descriptor with url = baseUrl', async () => {
      fake.mode = 'ok';
      fake.clear();
      const d = await svc('getServiceDescriptor', { baseUrl: fake.url, serviceIdentifier: SERVICE_ID });
      assert.equal(d.__type, 'SServiceDescriptor');
      const want = { ...descriptorOf(), url: fake.url };
      for (const [k, v] of Object.entries(want)) {
        assert.deepEqual(d[k], v, `field ${k}: ${JSON.stringify(d[k])}, expected ${JSON.stringify(v)}`);
      }
      const missing = SDESCRIPTOR_FIELDS.filter((f) => !(f in d));
      assert.deepEqual(missing, [], `SServiceDescriptor lacks fields: ${JSON.stringify(d)}`);
      assertSortedAfterType(d, 'SServiceDescriptor');

      assert.equal(fake.requests.length, 1, JSON.stringify(fake.requests));
      const r = fake.requests[0];
      assert.equal(r.method, 'POST');
      assert.equal(r.path, '/json');
      assert.deepEqual(r.json, { request: { interface: 'RemoteServiceInterface', method: 'getService',
        parameters: { serviceIdentifier: SERVICE_ID } } }, `body sent: ${r.body}`);
      assert.ok(!('token' in r.json), 'no token key');
      assert.match(r.headers['content-type'] || '', /^application\/json/i, 'Content-Type');
    });

    test('a baseUrl with a path: POSTs to <baseUrl>/json', async () => {
      fake.clear();
      const base = `${fake.url}/provider/v1`;
      const d = await svc('getServiceDescriptor', { baseUrl: base, serviceIdentifier: SERVICE_ID });
      assert.equal(d.url, base);
      assert.equal(fake.requests.length, 1);
      assert.equal(fake.requests[0].path, '/provider/v1/json');
    });

    test('unknown identifier: UserException "No service found with identifier X"', async () => {
      fake.clear();
      const exc = await svcErr('getServiceDescriptor', { baseUrl: fake.url, serviceIdentifier: 'nope' });
      assertUserException(exc, /^No service found with identifier nope$/, 'unknown identifier');
      assert.equal(fake.requests.length, 1);
    });

    for (const [mode, what] of [['status500', 'HTTP 500'], ['nonjson', 'a non-JSON body'],
      ['notype', 'an object without __type'], ['exception', 'an exception reply']]) {
      test(`provider answering ${what}: a UserException, server keeps serving`, async () => {
        fake.mode = mode;
        fake.clear();
        try {
          const { reply, ms } = await timedRpc(srv.url, 'ServiceInterface', 'getServiceDescriptor',
            { baseUrl: fake.url, serviceIdentifier: SERVICE_ID }, adminToken);
          const exc = exceptionOf(reply, `getServiceDescriptor (${mode})`);
          assertUserException(exc, null, mode);
          assert.ok(ms < 5000, `took ${ms} ms`);
          assert.equal(fake.requests.length, 1, 'exactly one request to the provider');
        } finally {
          fake.mode = 'ok';
        }
        await alive();
      });
    }

    test('provider that never answers: UserException within the timeout (< 5 s)', async () => {
      fake.mode = 'hang';
      fake.clear();
      try {
        const { reply, ms } = await timedRpc(srv.url, 'ServiceInterface', 'getServiceDescriptor',
          { baseUrl: fake.url, serviceIdentifier: SERVICE_ID }, adminToken);
        const exc = exceptionOf(reply, 'getServiceDescriptor (hang)');
        assertUserException(exc, null, 'hang');
        assert.ok(ms < 5000, `took ${ms} ms (timeout ${SERVICE_TIMEOUT_MS} ms)`);
        assert.ok(ms >= SERVICE_TIMEOUT_MS - 200, `answered after ${ms} ms, before the timeout?`);
      } finally {
        fake.mode = 'ok';
      }
      await alive();
    });

    test('a hanging provider does not stall other keep-alive connections meanwhile', async () => {
      // Not in the spec's words, but a server must not stop answering its other clients for
      // up to --service-timeout-ms because one provider hangs: 6 keep-alive connections are
      // opened, one carries the hanging call, the others each ask getServerInfo.
      const agent = new http.Agent({ keepAlive: true, maxSockets: 6 });
      const post = (body) => new Promise((resolve, reject) => {
        const t0 = Date.now();
        const req = http.request(`${srv.url}/json`, { method: 'POST', agent,
          headers: { 'Content-Type': 'application/json' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(Date.now() - t0));
        });
        req.on('error', reject);
        req.end(JSON.stringify(body));
      });
      const info = { request: { interface: 'AdminInterface', method: 'getServerInfo', parameters: {} } };
      fake.mode = 'hang';
      try {
        await Promise.all([1, 2, 3, 4, 5, 6].map(() => post(info)));
        const slow = post({ token: adminToken, request: { interface: 'ServiceInterface',
          method: 'getServiceDescriptor', parameters: { baseUrl: fake.url, serviceIdentifier: SERVICE_ID } } });
        await new Promise((r) => setTimeout(r, 200));
        const times = await Promise.all([1, 2, 3, 4, 5].map(() => post(info)));
        await slow;
        assert.ok(times.every((ms) => ms < 1000),
          `getServerInfo on the other keep-alive connections took ${times.join(', ')} ms ` +
          `while a provider call hung (timeout ${SERVICE_TIMEOUT_MS} ms)`);
      } finally {
        fake.mode = 'ok';
        agent.destroy();
      }
    });

    test('refused connection: UserException', async () => {
      const port = await refusedPort();
      const { reply, ms } = await timedRpc(srv.url, 'ServiceInterface', 'getServiceDescriptor',
        { baseUrl: `http://127.0.0.1:${port}`, serviceIdentifier: SERVICE_ID }, adminToken);
      assertUserException(exceptionOf(reply, 'refused'), null, 'refused');
      assert.ok(ms < 5000, `took ${ms} ms`);
    });

    for (const bad of ['ftp://127.0.0.1/x', 'file:///etc/passwd', 'gopher://127.0.0.1:70/', '127.0.0.1:8081',
      '', 'http://', 'javascript:alert(1)']) {
      test(`baseUrl ${JSON.stringify(bad)}: UserException, nothing sent`, async () => {
        fake.clear();
        const exc = exceptionOf(await raw('getServiceDescriptor', { baseUrl: bad, serviceIdentifier: SERVICE_ID }),
          `getServiceDescriptor(${bad})`);
        assertUserException(exc, null, bad);
        assert.deepEqual(fake.requests, []);
      });
    }

    test('baseUrl null: an exception, server alive', async () => {
      exceptionOf(await raw('getServiceDescriptor', { baseUrl: null, serviceIdentifier: SERVICE_ID }));
      await alive();
    });

    test('anonymous: refused, nothing sent', async () => {
      fake.clear();
      const exc = exceptionOf(await raw('getServiceDescriptor',
        { baseUrl: fake.url, serviceIdentifier: SERVICE_ID }, ANON));
      assert.match(exc.message, /Authentication required/);
      assert.deepEqual(fake.requests, []);
    });

    test('redirects are not followed (302 → the call fails)', async () => {
      fake.mode = 'redirect';
      fake.clear();
      try {
        const { reply } = await timedRpc(srv.url, 'ServiceInterface', 'getServiceDescriptor',
          { baseUrl: fake.url, serviceIdentifier: SERVICE_ID }, adminToken);
        const exc = exceptionOf(reply, 'getServiceDescriptor (302)');
        assertUserException(exc, null, 'redirect');
        assert.deepEqual(fake.requests.map((r) => r.path), ['/json'], 'the redirect target was requested');
      } finally {
        fake.mode = 'ok';
      }
    });

    test('169.254.169.254 is refused quickly (< 2 s)', async () => {
      for (const base of ['http://169.254.169.254', 'http://169.254.169.254/latest/meta-data']) {
        const { reply, ms } = await timedRpc(srv.url, 'ServiceInterface', 'getServiceDescriptor',
          { baseUrl: base, serviceIdentifier: SERVICE_ID }, adminToken);
        assertUserException(exceptionOf(reply, base), null, base);
        assert.ok(ms < 2000, `${base}: took ${ms} ms`);
      }
    });
  });

  // -------------------------------------------------------------------------------------
  describe('profiles and the descriptor repository', () => {
    test('getAllPublicProfiles returns the provider\'s SProfileDescriptors', async () => {
      fake.mode = 'ok';
      fake.clear();
      const list = await svc('getAllPublicProfiles', { notificationsUrl: fake.url, serviceIdentifier: SERVICE_ID });
      assert.deepEqual(list, publicProfilesOf());
      for (const p of list) assertSortedAfterType(p, 'SProfileDescriptor');
      assert.equal(fake.requests.length, 1, JSON.stringify(fake.requests));
      assert.equal(fake.requests[0].path, '/json');
      assert.deepEqual(fake.requests[0].json, { request: { interface: 'RemoteServiceInterface',
        method: 'getPublicProfiles', parameters: { serviceIdentifier: SERVICE_ID } } });
    });

    test('getAllPublicProfiles raw reply is an array', async () => {
      const r = resultOf(await raw('getAllPublicProfiles', { notificationsUrl: fake.url, serviceIdentifier: SERVICE_ID }));
      assert.ok(Array.isArray(r), JSON.stringify(r));
      assert.equal(r.length, 2);
    });

    test('getAllPublicProfiles with a provider answering 500 or refusing the connection: UserException', async () => {
      fake.mode = 'status500';
      try {
        assertUserException(exceptionOf(await raw('getAllPublicProfiles',
          { notificationsUrl: fake.url, serviceIdentifier: SERVICE_ID }), 'profiles 500'), null, 'profiles 500');
      } finally {
        fake.mode = 'ok';
      }
      const port = await refusedPort();
      assertUserException(exceptionOf(await raw('getAllPublicProfiles',
        { notificationsUrl: `http://127.0.0.1:${port}`, serviceIdentifier: SERVICE_ID }), 'profiles refused'),
      null, 'profiles refused');
    });

    test('getAllPrivateProfiles returns [] (an array, not {})', async () => {
      const reply = await raw('getAllPrivateProfiles', { notificationsUrl: fake.url, serviceIdentifier: SERVICE_ID });
      assert.deepEqual(resultOf(reply, 'getAllPrivateProfiles'), []);
      const viaClient = await svc('getAllPrivateProfiles', { notificationsUrl: fake.url, serviceIdentifier: SERVICE_ID });
      assert.deepEqual(viaClient, []);
    });

    test('getAllServiceDescriptors returns [] without a service repository', async () => {
      const reply = await raw('getAllServiceDescriptors', {});
      assert.deepEqual(resultOf(reply, 'getAllServiceDescriptors'), []);
    });

    test('anonymous: profile and descriptor calls are refused', async () => {
      for (const [m, p] of [['getAllPublicProfiles', { notificationsUrl: fake.url, serviceIdentifier: SERVICE_ID }],
        ['getAllPrivateProfiles', { notificationsUrl: fake.url, serviceIdentifier: SERVICE_ID }],
        ['getAllServiceDescriptors', {}]]) {
        const exc = exceptionOf(await raw(m, p, ANON), `anonymous ${m}`);
        assert.match(exc.message, /Authentication required/, `${m}: ${exc.message}`);
      }
    });
  });
});

// ---------------------------------------------------------------------------------------
describe('services: SSRF guard with an empty allow list (--service-allow "")', () => {
  let srv;
  let fake;
  let token;

  before(async () => {
    fake = await startFakeService();
    srv = await startServer({ args: ['--service-allow', '', '--service-timeout-ms', String(SERVICE_TIMEOUT_MS)] });
    token = resultOf(await rpc(srv.url, 'AuthInterface', 'login', { username: ADMIN_USER, password: ADMIN_PASSWORD }));
  });
  after(async () => {
    if (srv) await srv.stop();
    if (fake) await fake.close();
  });

  test('getServiceDescriptor to 127.0.0.1 is refused as not allowed; the fake receives nothing', async () => {
    fake.clear();
    const { reply, ms } = await timedRpc(srv.url, 'ServiceInterface', 'getServiceDescriptor',
      { baseUrl: fake.url, serviceIdentifier: SERVICE_ID }, token);
    const exc = exceptionOf(reply, 'getServiceDescriptor (loopback, empty allow list)');
    assertUserException(exc, /not allowed/i, 'empty allow list');
    assert.ok(ms < 2000, `took ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(fake.requests, []);
  });

  test('localhost by name is refused as well', async () => {
    fake.clear();
    const exc = exceptionOf(await rpc(srv.url, 'ServiceInterface', 'getServiceDescriptor',
      { baseUrl: `http://localhost:${fake.port}`, serviceIdentifier: SERVICE_ID }, token));
    assertUserException(exc, /not allowed/i, 'localhost');
    assert.deepEqual(fake.requests, []);
  });

  test('getAllPublicProfiles to 127.0.0.1 is refused too', async () => {
    fake.clear();
    const exc = exceptionOf(await rpc(srv.url, 'ServiceInterface', 'getAllPublicProfiles',
      { notificationsUrl: fake.url, serviceIdentifier: SERVICE_ID }, token));
    assertUserException(exc, /not allowed/i, 'profiles, empty allow list');
    assert.deepEqual(fake.requests, []);
  });

  test('169.254.169.254 is refused quickly (< 2 s)', async () => {
    const { reply, ms } = await timedRpc(srv.url, 'ServiceInterface', 'getServiceDescriptor',
      { baseUrl: 'http://169.254.169.254', serviceIdentifier: SERVICE_ID }, token);
    assertUserException(exceptionOf(reply), null, 'metadata address');
    assert.ok(ms < 2000, `took ${ms} ms`);
  });
});

// ---------------------------------------------------------------------------------------
describe('services: 169.254.169.254 stays refused even when --service-allow names it', () => {
  let srv;
  let token;

  before(async () => {
    srv = await startServer({ args: ['--service-allow', '127.0.0.0/8,169.254.0.0/16,0.0.0.0/0',
      '--service-timeout-ms', String(SERVICE_TIMEOUT_MS)] });
    token = resultOf(await rpc(srv.url, 'AuthInterface', 'login', { username: ADMIN_USER, password: ADMIN_PASSWORD }));
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  for (const base of ['http://169.254.169.254', 'http://169.254.169.254:80/latest', 'http://[fe80::1]:8080']) {
    test(`getServiceDescriptor(${base}) is refused quickly (< 2 s)`, async () => {
      const { reply, ms } = await timedRpc(srv.url, 'ServiceInterface', 'getServiceDescriptor',
        { baseUrl: base, serviceIdentifier: SERVICE_ID }, token);
      assertUserException(exceptionOf(reply, base), /not allowed/i, base);
      assert.ok(ms < 2000, `took ${ms} ms`);
    });
  }
});

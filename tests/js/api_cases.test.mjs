// Runs every tests/api/cases/*.json against one server, in file-name order.
//
// A case file:
//   {
//     "name":    "what it shows",
//     "as":      "admin" | "user" | "anonymous",
//     "request": <envelope: {"request": {...}} or {"requests": [...]}, optionally "id", "token">,
//     "body":    "<raw body text>"        (instead of "request", for malformed input)
//     "status":  200                      (expected HTTP status; default 200)
//     "expect":  <subset of the reply>    (omit to check only the status)
//   }
// - "admin" and "user" log in afresh for each case (so a case may log out) and put the token
//   in the envelope, unless the envelope already has a "token" key.
// - Strings "${var}" in request/expect are replaced (whole string: keeps the value's type,
//   "${var:string}" makes it a string):
//   adminUser, adminPassword, adminUoid, userName, userPassword, userUoid, projectPoid
//   ("case-project", created by the admin; the user has no rights on it), serverUrl, and for
//   check-ins, downloads and extended data (see revisionSetup below): revPoid, roid, ifcPoid1..4,
//   desOid, serOid, zipSerOid, schemaOid, fileId, edid, smallIfcBase64.
// - expect matches as a deep subset: objects need the listed keys only; arrays need the same
//   length, element by element; special strings "$any", "$string", "$number", "$boolean",
//   "$array", "$object", "$re:<regex>"; {"$contains": [...]} = an array in which each listed
//   element matches some element.
// - Cases share the server: one that changes state should use objects of its own.
//
// A further test fails when a method that bimhub lists (MetaInterface.getServiceMethods for
// each of MetaInterface.getServiceInterfaces) has no case calling it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { postJson, resultOf, rpc } from './lib/client.mjs';
import { ADMIN_PASSWORD, ADMIN_USER, startServer } from './lib/server.mjs';

const CASES_DIR = fileURLToPath(new URL('../api/cases/', import.meta.url));
const USER = 'case-user@bimhub.test';
const USER_PW = 'case-user-secret-1';

function loadCases()
{
  if (!fs.existsSync(CASES_DIR)) return [];
  return fs.readdirSync(CASES_DIR).filter((f) => f.endsWith('.json')).sort().map((file) => {
    const text = fs.readFileSync(path.join(CASES_DIR, file), 'utf8');
    let c;
    try {
      c = JSON.parse(text);
    } catch (e) {
      throw new Error(`${file}: not JSON: ${e.message}`);
    }
    if (typeof c.name !== 'string') throw new Error(`${file}: "name" missing`);
    if (!['admin', 'user', 'anonymous'].includes(c.as)) {
      throw new Error(`${file}: "as" must be admin, user or anonymous`);
    }
    if ((c.request === undefined) === (c.body === undefined)) {
      throw new Error(`${file}: give exactly one of "request" and "body"`);
    }
    return { file, ...c };
  });
}

function substitute(value, vars)
{
  if (typeof value === 'string') {
    const whole = /^\$\{(\w+)(:string)?\}$/.exec(value);
    if (whole) {
      if (!(whole[1] in vars)) throw new Error(`unknown variable ${value}`);
      return whole[2] ? String(vars[whole[1]]) : vars[whole[1]];
    }
    return value.replace(/\$\{(\w+)\}/g, (_, k) => {
      if (!(k in vars)) throw new Error(`unknown variable \${${k}}`);
      return String(vars[k]);
    });
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, vars));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, vars)]));
  }
  return value;
}

/** Returns null when actual matches expect, else a description of the first mismatch. */
function mismatch(actual, expect, where = '$')
{
  const show = (v) => JSON.stringify(v);
  if (typeof expect === 'string' && expect.startsWith('$')) {
    const kinds = {
      $any: () => actual !== undefined,
      $string: () => typeof actual === 'string',
      $number: () => typeof actual === 'number',
      $boolean: () => typeof actual === 'boolean',
      $array: () => Array.isArray(actual),
      $object: () => actual !== null && typeof actual === 'object' && !Array.isArray(actual),
    };
    if (kinds[expect]) return kinds[expect]() ? null : `${where}: expected ${expect}, got ${show(actual)}`;
    if (expect.startsWith('$re:')) {
      return typeof actual === 'string' && new RegExp(expect.slice(4)).test(actual) ? null
        : `${where}: ${show(actual)} does not match /${expect.slice(4)}/`;
    }
  }
  if (Array.isArray(expect)) {
    if (!Array.isArray(actual)) return `${where}: expected an array, got ${show(actual)}`;
    if (actual.length !== expect.length) {
      return `${where}: expected ${expect.length} elements, got ${actual.length}: ${show(actual)}`;
    }
    for (let i = 0; i < expect.length; i++) {
      const m = mismatch(actual[i], expect[i], `${where}[${i}]`);
      if (m) return m;
    }
    return null;
  }
  if (expect !== null && typeof expect === 'object') {
    if (Object.keys(expect).length === 1 && '$contains' in expect) {
      if (!Array.isArray(actual)) return `${where}: expected an array, got ${show(actual)}`;
      for (const e of expect.$contains) {
        if (!actual.some((a) => mismatch(a, e) === null)) {
          return `${where}: no element matches ${show(e)} in ${show(actual)}`;
        }
      }
      return null;
    }
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) {
      return `${where}: expected an object, got ${show(actual)}`;
    }
    for (const [k, v] of Object.entries(expect)) {
      if (!(k in actual)) return `${where}.${k}: missing in ${show(actual)}`;
      const m = mismatch(actual[k], v, `${where}.${k}`);
      if (m) return m;
    }
    return null;
  }
  return Object.is(actual, expect) ? null : `${where}: expected ${show(expect)}, got ${show(actual)}`;
}

// Bimsie1ServiceInterface has rows of its own (the 1.3/1.4 forms): they need their own cases
const simpleName = (name) => String(name).split('.').pop();

function calledMethods(c)
{
  if (!c.request) return [];
  const list = c.request.requests || (c.request.request ? [c.request.request] : []);
  return list.map((r) => `${simpleName(r.interface)}.${r.method}`);
}

const cases = loadCases();

/** A tiny IFC2X3 STEP file (Base64 in the vars as smallIfcBase64). */
export const SMALL_IFC = [
  'ISO-10303-21;', 'HEADER;', "FILE_DESCRIPTION(('ViewDefinition [CoordinationView]'),'2;1');",
  "FILE_NAME('case.ifc','2024-01-01T00:00:00',('bimhub'),('bimhub'),'','bimhub','');",
  "FILE_SCHEMA(('IFC2X3'));", 'ENDSEC;', 'DATA;',
  "#1=IFCPERSON($,'Doe','John',$,$,$,$,$);",
  "#2=IFCORGANIZATION($,'bimhub',$,$,$);",
  '#3=IFCPERSONANDORGANIZATION(#1,#2,$);',
  'ENDSEC;', 'END-ISO-10303-21;', ''].join('\n');

/**
 * What the check-in, download and extended-data cases refer to (all owned by the admin):
 *   revPoid ("case-rev-project", ifc2x3tc1) with one revision roid (comment "case revision",
 *   3 objects) checked in from SMALL_IFC; ifcPoid1..ifcPoid4 (empty ifc2x3tc1 projects, one per
 *   check-in case, so no case waits for another's lock); desOid / serOid / zipSerOid: the
 *   admin's "Ifc2x3tc1 (Streaming)" deserializer, "Ifc (Streaming)" and "IfcZip" serializers;
 *   schemaOid ("case-schema"), fileId ("case.txt", text/plain, "case file\n"), edid (extended
 *   data "case-ed" on roid with that schema and file); smallIfcBase64.
 */
async function revisionSetup(call)
{
  const des = await call('PluginInterface', 'getAllDeserializers', { onlyEnabled: true });
  const ser = await call('PluginInterface', 'getAllSerializers', { onlyEnabled: true });
  const desOid = des.find((d) => d.name === 'Ifc2x3tc1 (Streaming)').oid;
  const serOid = ser.find((x) => x.name === 'Ifc (Streaming)').oid;
  const zipSerOid = ser.find((x) => x.name === 'IfcZip').oid;
  const rp = await call('ServiceInterface', 'addProject', { projectName: 'case-rev-project', schema: 'ifc2x3tc1' });
  const smallIfcBase64 = Buffer.from(SMALL_IFC).toString('base64');
  const st = await call('ServiceInterface', 'checkinSync', {
    poid: rp.oid, comment: 'case revision', deserializerOid: desOid, fileSize: SMALL_IFC.length,
    fileName: 'case.ifc', data: smallIfcBase64, merge: false,
  });
  if (st.state !== 'FINISHED') throw new Error(`setup check-in failed: ${JSON.stringify(st)}`);
  const more = {};
  for (let i = 1; i <= 4; i++) {
    more[`ifcPoid${i}`] = (await call('ServiceInterface', 'addProject',
      { projectName: `case-ifc-${i}`, schema: 'ifc2x3tc1' })).oid;
  }
  const schemaOid = await call('ServiceInterface', 'addExtendedDataSchema', { extendedDataSchema: {
    __type: 'SExtendedDataSchema', name: 'case-schema', contentType: 'text/plain', description: 'for cases',
  } });
  const fileId = await call('ServiceInterface', 'uploadFile', { file: {
    __type: 'SFile', data: Buffer.from('case file\n').toString('base64'), filename: 'case.txt', mime: 'text/plain', size: 10,
  } });
  await call('ServiceInterface', 'addExtendedDataToRevision', { roid: st.roid, extendedData: {
    __type: 'SExtendedData', title: 'case-ed', schemaId: schemaOid, fileId,
  } });
  const eds = await call('ServiceInterface', 'getAllExtendedDataOfRevision', { roid: st.roid });
  return {
    revPoid: rp.oid, roid: st.roid, desOid, serOid, zipSerOid, schemaOid, fileId, edid: eds[0].oid,
    smallIfcBase64, ...more,
  };
}

describe('API cases (tests/api/cases)', () => {
  let srv;
  let vars;

  const tokenFor = async (who) => {
    if (who === 'anonymous') return undefined;
    const [u, p] = who === 'admin' ? [ADMIN_USER, ADMIN_PASSWORD] : [USER, USER_PW];
    return resultOf(await rpc(srv.url, 'AuthInterface', 'login', { username: u, password: p }),
      `login as ${u}`);
  };

  before(async () => {
    srv = await startServer();
    const admin = await tokenFor('admin');
    const call = (iface, method, params) =>
      rpc(srv.url, iface, method, params, admin).then((r) => resultOf(r, `${iface}.${method}`));
    const me = await call('AuthInterface', 'getLoggedInUser', {});
    const user = await call('ServiceInterface', 'addUserWithPassword', {
      username: USER, password: USER_PW, name: 'Case User', type: 'USER',
      selfRegistration: false, resetUrl: '',
    });
    const project = await call('ServiceInterface', 'addProject',
      { projectName: 'case-project', schema: 'ifc2x3tc1' });
    vars = {
      adminUser: ADMIN_USER, adminPassword: ADMIN_PASSWORD, adminUoid: me.oid,
      userName: USER, userPassword: USER_PW, userUoid: user.oid, projectPoid: project.oid,
      serverUrl: srv.url,
    };
    Object.assign(vars, await revisionSetup(call));
  });
  after(async () => {
    if (srv) await srv.stop();
  });

  test('there are case files', () => {
    assert.ok(cases.length > 0, `no *.json in ${CASES_DIR}`);
  });

  for (const c of cases) {
    test(`${c.file}: ${c.name}`, async () => {
      let body;
      if (c.request !== undefined) {
        const envelope = substitute(c.request, vars);
        const token = await tokenFor(c.as);
        if (token !== undefined && !('token' in envelope)) envelope.token = token;
        body = JSON.stringify(envelope);
      } else {
        body = substitute(c.body, vars);
      }
      const res = await postJson(`${srv.url}/json`, body);
      assert.equal(res.status, c.status ?? 200, `HTTP status; body: ${res.text}`);
      if (c.expect !== undefined) {
        const m = mismatch(res.json, substitute(c.expect, vars));
        assert.equal(m, null, `${m}\nfull reply: ${res.text}`);
      }
    });
  }

  test('every method bimhub lists in MetaInterface has a case', async () => {
    const interfaces = resultOf(await rpc(srv.url, 'MetaInterface', 'getServiceInterfaces'),
      'getServiceInterfaces');
    assert.ok(Array.isArray(interfaces) && interfaces.length > 0);
    const listed = [];
    for (const i of interfaces) {
      const methods = resultOf(await rpc(srv.url, 'MetaInterface', 'getServiceMethods',
        { serviceInterfaceName: i.name }), `getServiceMethods(${i.name})`);
      for (const m of methods) listed.push(`${simpleName(i.name)}.${m.name}`);
    }
    assert.ok(listed.length > 0, 'bimhub lists no method at all');
    const covered = new Set(cases.flatMap(calledMethods));
    const missing = listed.filter((m) => !covered.has(m));
    assert.deepEqual(missing, [],
      `${missing.length} of ${listed.length} listed methods have no case in tests/api/cases: ` +
      missing.join(', '));
  });
});

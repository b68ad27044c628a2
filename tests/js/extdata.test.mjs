// Extended data (spec §4.4 "Extended data and files", §1.4 action=extendeddata, §9):
// schemas, files, extended data on revisions and projects, the JS client's addExtendedData,
// rights of a second user.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { closeClient, loggedInClient } from './lib/client.mjs';
import {
  api, fetchBytes, installFormDataXhr, loginToken, pluginOids, postUpload, sharedIfcFiles,
} from './lib/checkin.mjs';
import { ADMIN_PASSWORD, ADMIN_USER, startServer } from './lib/server.mjs';

installFormDataXhr();
const SMALL = fs.readFileSync(sharedIfcFiles().find((x) => x.name === 'Sample_entities.ifc').path);

describe('extended data', () => {
  let srv;
  let a;
  let o;
  let c;
  let poid;
  let roid;
  let schemaOid;
  let edid;
  const payload = Buffer.from('{"issues":[{"guid":"2O2Fr$t4X7Zf8NOew3FLOH","text":"Öffnung"}]}\n');

  before(async () => {
    srv = await startServer();
    a = api(srv.url, await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD));
    const oids = await pluginOids(a);
    const p = await a.svc('addProject', { projectName: 'ed', schema: 'ifc2x3tc1' });
    poid = p.oid;
    const st = await a.svc('checkinSync', {
      poid, comment: 'c', deserializerOid: oids.des['Ifc2x3tc1 (Streaming)'], fileSize: -1,
      fileName: 's.ifc', data: SMALL.toString('base64'), merge: false,
    });
    roid = st.roid;
    await a.svc('addUserWithPassword', {
      username: 'ed-other@bimhub.test', password: 'ed-other-secret-1', name: 'O', type: 'USER',
      selfRegistration: false, resetUrl: '',
    });
    o = api(srv.url, await loginToken(srv.url, 'ed-other@bimhub.test', 'ed-other-secret-1'));
  });
  after(async () => {
    if (c) await closeClient(c);
    if (srv) await srv.stop();
  });

  test('addExtendedDataSchema; names unique; found by name, namespace, id; listed', async () => {
    schemaOid = await a.svc('addExtendedDataSchema', { extendedDataSchema: {
      __type: 'SExtendedDataSchema', name: 'Issues', contentType: 'application/json', description: 'issue list',
    } });
    assert.equal(typeof schemaOid, 'number');
    const dup = await a.svcErr('addExtendedDataSchema', { extendedDataSchema: {
      __type: 'SExtendedDataSchema', name: 'Issues', contentType: 'text/plain', description: '',
    } });
    assert.equal(dup.message, 'ExtendedDataSchema name must be unique');
    const s = await a.svc('getExtendedDataSchemaByName', { name: 'Issues' });
    assert.equal(s.oid, schemaOid);
    assert.equal(s.contentType, 'application/json');
    assert.equal(s.description, 'issue list');
    assert.equal((await a.svc('getExtendedDataSchemaByNamespace', { namespace: 'Issues' })).oid, schemaOid);
    assert.equal((await a.svc('getExtendedDataSchemaById', { oid: schemaOid })).name, 'Issues');
    assert.deepEqual(await a.svc('getExtendedDataSchemaByName', { name: 'nope' }), {});
    const all = await a.svc('getAllExtendedDataSchemas', {});
    assert.ok(all.some((x) => x.oid === schemaOid));
  });

  test('uploadFile + addExtendedDataToRevision; listed; /download action=extendeddata', async () => {
    const fileId = await a.svc('uploadFile', { file: {
      __type: 'SFile', data: payload.toString('base64'), filename: 'issues.json', mime: 'application/json', size: payload.length,
    } });
    const meta = await a.svc('getFileMeta', { fileId });
    assert.equal(meta.data, null);
    assert.equal(meta.filename, 'issues.json');
    assert.equal(meta.size, payload.length);
    assert.deepEqual(Buffer.from((await a.svc('getFile', { fileId })).data, 'base64'), payload);

    assert.deepEqual(await a.svc('addExtendedDataToRevision', { roid, extendedData: {
      __type: 'SExtendedData', title: 'issues', schemaId: schemaOid, fileId,
    } }), {});
    const list = await a.svc('getAllExtendedDataOfRevision', { roid });
    assert.equal(list.length, 1);
    const ed = list[0];
    edid = ed.oid;
    assert.equal(ed.__type, 'SExtendedData');
    assert.equal(ed.title, 'issues');
    assert.equal(ed.fileId, fileId);
    assert.equal(ed.schemaId, schemaOid);
    assert.equal(ed.revisionId, roid);
    assert.equal(ed.projectId, poid);
    assert.equal(ed.size, payload.length);
    assert.ok(ed.added > 0);
    assert.equal((await a.svc('getExtendedData', { oid: edid })).title, 'issues');
    assert.equal((await a.svc('getAllExtendedDataOfRevisionAndSchema', { roid, schemaId: schemaOid })).length, 1);
    assert.equal((await a.svc('getLastExtendedDataOfRevisionAndSchema', { roid, schemaId: schemaOid })).oid, edid);
    assert.ok((await a.svc('getRevision', { roid })).extendedData.includes(edid));

    const res = await fetchBytes(`${srv.url}/download?token=${a.token}&action=extendeddata&edid=${edid}`);
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /application\/json/);
    assert.match(String(res.headers['content-disposition']), /filename="issues\.json"/);
    assert.deepEqual(res.body, payload);
  });

  test('addExtendedDataToProject', async () => {
    const fileId = await a.svc('uploadFile', { file: {
      __type: 'SFile', data: Buffer.from('p').toString('base64'), filename: 'p.txt', mime: 'text/plain', size: 1,
    } });
    await a.svc('addExtendedDataToProject', { poid, extendedData: {
      __type: 'SExtendedData', title: 'on project', schemaId: schemaOid, fileId,
    } });
    const proj = await a.svc('getProjectByPoid', { poid });
    assert.equal(proj.extendedData.length, 1);
    const ed = await a.svc('getExtendedData', { oid: proj.extendedData[0] });
    assert.equal(ed.title, 'on project');
    assert.equal(ed.projectId, poid);
  });

  test("bimserverapi's addExtendedData (a Blob through /upload action=file)", async () => {
    ({ client: c } = await loggedInClient(srv.url, ADMIN_USER, ADMIN_PASSWORD));
    const schema = await a.svc('getExtendedDataSchemaById', { oid: schemaOid });
    const blob = new File([Buffer.from('from the js client')], 'js.txt', { type: 'text/plain' });
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('addExtendedData: no answer')), 20000);
      c.addExtendedData(roid, 'from js', schema, blob, () => { clearTimeout(timer); resolve(); },
        (e) => { clearTimeout(timer); reject(new Error(JSON.stringify(e))); });
    });
    const list = await a.svc('getAllExtendedDataOfRevision', { roid });
    const mine = list.find((x) => x.title === 'from js');
    assert.ok(mine, JSON.stringify(list));
    const res = await fetchBytes(c.generateExtendedDataDownloadUrl(mine.oid), { method: 'POST' });
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'from the js client');
  });

  test('raw /upload action=file then addExtendedDataToRevision', async () => {
    const r = await postUpload(srv.url, [
      { name: 'action', value: 'file' }, { name: 'token', value: a.token },
      { name: 'file', filename: 'raw.bin', data: Buffer.from([0, 1, 2, 255]), contentType: 'application/octet-stream' },
    ]);
    assert.equal(typeof r.json.fileId, 'number', r.text);
    await a.svc('addExtendedDataToRevision', { roid, extendedData: {
      __type: 'SExtendedData', title: 'raw', schemaId: schemaOid, fileId: r.json.fileId,
    } });
    const ed = (await a.svc('getAllExtendedDataOfRevision', { roid })).find((x) => x.title === 'raw');
    const res = await fetchBytes(`${srv.url}/download?token=${a.token}&action=extendeddata&edid=${ed.oid}`);
    assert.deepEqual([...res.body], [0, 1, 2, 255]);
  });

  test('a second user without rights cannot read it', async () => {
    const exc = await o.svcErr('getExtendedData', { oid: edid });
    assert.ok(exc.message);
    const res = await fetchBytes(`${srv.url}/download?token=${o.token}&action=extendeddata&edid=${edid}`);
    assert.ok([403, 404].includes(res.status), `status ${res.status}: ${res.body.toString().slice(0, 200)}`);
    assert.ok(!res.body.includes(payload), 'no payload bytes');
    const r = await o.raw('ServiceInterface', 'getAllExtendedDataOfRevision', { roid });
    assert.ok(r.response.exception || (Array.isArray(r.response.result) && r.response.result.length === 0),
      `getAllExtendedDataOfRevision by a stranger: ${JSON.stringify(r).slice(0, 300)}`);
    const add = await o.raw('ServiceInterface', 'addExtendedDataToRevision', { roid, extendedData: {
      __type: 'SExtendedData', title: 'intruder', schemaId: schemaOid, fileId: 1,
    } });
    assert.ok(add.response.exception, JSON.stringify(add));
    const noTok = await fetchBytes(`${srv.url}/download?action=extendeddata&edid=${edid}`);
    assert.ok(noTok.status >= 400 && noTok.status < 500, `no token: ${noTok.status}`);
  });
});

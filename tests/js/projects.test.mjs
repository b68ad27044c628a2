// Projects through BIMserver's JS client as the admin (spec §4.4 "Projects and users").
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { call, callError, closeClient, loggedInClient } from './lib/client.mjs';
import { ADMIN_PASSWORD, ADMIN_USER, startServer } from './lib/server.mjs';

const ids = (list) => list.map((p) => p.oid);

describe('projects', () => {
  let srv;
  let c;
  const svc = (method, params) => call(c, 'ServiceInterface', method, params);
  const svcErr = (method, params) => callError(c, 'ServiceInterface', method, params);

  before(async () => {
    srv = await startServer();
    ({ client: c } = await loggedInClient(srv.url, ADMIN_USER, ADMIN_PASSWORD));
  });
  after(async () => {
    if (c) await closeClient(c);
    if (srv) await srv.stop();
  });

  let alpha;
  let beta;

  test('addProject returns the new SProject', async () => {
    alpha = await svc('addProject', { projectName: 'Alpha', schema: 'ifc2x3tc1' });
    assert.equal(alpha.__type, 'SProject');
    assert.equal(alpha.name, 'Alpha');
    assert.equal(alpha.schema, 'ifc2x3tc1');
    assert.equal(alpha.parentId, -1);
    assert.equal(alpha.state, 'ACTIVE');
    assert.equal(alpha.lastRevisionId, -1);
    assert.deepEqual(alpha.subProjects, []);
    assert.deepEqual(alpha.revisions, []);
    assert.equal(typeof alpha.oid, 'number');
    assert.ok(alpha.oid > 0);
  });

  test('addProject trims the name and lower-cases the schema', async () => {
    beta = await svc('addProject', { projectName: '  Beta  ', schema: 'IFC4' });
    assert.equal(beta.name, 'Beta');
    assert.equal(beta.schema, 'ifc4');
    assert.notEqual(beta.oid, alpha.oid);
  });

  test('addProject refuses a duplicate name, an empty name and an unknown schema', async () => {
    const dup = await svcErr('addProject', { projectName: 'Alpha', schema: 'ifc4' });
    assert.equal(dup.__type, 'UserException');
    assert.equal(dup.message, 'Project name must be unique');
    const empty = await svcErr('addProject', { projectName: '   ', schema: 'ifc4' });
    assert.equal(empty.__type, 'UserException');
    const schema = await svcErr('addProject', { projectName: 'Gamma', schema: 'ifc9' });
    assert.equal(schema.__type, 'UserException');
    assert.match(schema.message, /schema/i);
    const byName = await svc('getProjectsByName', { name: 'Gamma' });
    assert.deepEqual(byName, [], 'nothing was created by the failed calls');
  });

  test('getProjectByPoid, getProjectsByName, getTopLevelProjectByName find it', async () => {
    const p = await svc('getProjectByPoid', { poid: alpha.oid });
    assert.equal(p.__type, 'SProject');
    assert.equal(p.oid, alpha.oid);
    assert.equal(p.name, 'Alpha');

    const list = await svc('getProjectsByName', { name: 'Alpha' });
    assert.deepEqual(ids(list), [alpha.oid]);

    const top = await svc('getTopLevelProjectByName', { name: 'Beta' });
    assert.equal(top.oid, beta.oid);
  });

  test('getProjectByPoid of an unknown poid is a UserException', async () => {
    const exc = await svcErr('getProjectByPoid', { poid: alpha.oid + 1000000 });
    assert.equal(exc.__type, 'UserException');
  });

  let sub;
  test('addProjectAsSubProject and getSubProjects', async () => {
    sub = await svc('addProjectAsSubProject',
      { projectName: 'Alpha-1', parentPoid: alpha.oid, schema: 'ifc2x3tc1' });
    assert.equal(sub.__type, 'SProject');
    assert.equal(sub.parentId, alpha.oid);
    assert.equal(sub.name, 'Alpha-1');

    assert.deepEqual(ids(await svc('getSubProjects', { poid: alpha.oid })), [sub.oid]);
    assert.deepEqual(await svc('getSubProjects', { poid: beta.oid }), []);
    const parent = await svc('getProjectByPoid', { poid: alpha.oid });
    assert.deepEqual(parent.subProjects, [sub.oid]);

    // unique within the parent, not across parents
    const dup = await svcErr('addProjectAsSubProject',
      { projectName: 'Alpha-1', parentPoid: alpha.oid, schema: 'ifc2x3tc1' });
    assert.equal(dup.__type, 'UserException');
    const elsewhere = await svc('addProjectAsSubProject',
      { projectName: 'Alpha-1', parentPoid: beta.oid, schema: 'ifc4' });
    assert.equal(elsewhere.parentId, beta.oid);
  });

  test('getAllProjects: onlyTopLevel leaves sub-projects out', async () => {
    const top = ids(await svc('getAllProjects', { onlyTopLevel: true, onlyActive: false }));
    assert.deepEqual([...top].sort((a, b) => a - b), [alpha.oid, beta.oid].sort((a, b) => a - b));
    const all = ids(await svc('getAllProjects', { onlyTopLevel: false, onlyActive: false }));
    assert.ok(all.includes(sub.oid));
    assert.equal(all.length, 4);
  });

  test('updateProject stores the changed description', async () => {
    const p = await svc('getProjectByPoid', { poid: alpha.oid });
    p.description = 'changed by the test';
    assert.deepEqual(await svc('updateProject', { sProject: p }), {});
    const again = await svc('getProjectByPoid', { poid: alpha.oid });
    assert.equal(again.description, 'changed by the test');
    assert.equal(again.name, 'Alpha');
  });

  test('deleteProject marks it and its sub-projects DELETED; undeleteProject restores', async () => {
    assert.equal(await svc('deleteProject', { poid: alpha.oid }), true);
    const gone = await svc('getProjectByPoid', { poid: alpha.oid });
    assert.equal(gone.state, 'DELETED', 'the admin still sees a deleted project');
    assert.equal((await svc('getProjectByPoid', { poid: sub.oid })).state, 'DELETED');

    const active = ids(await svc('getAllProjects', { onlyTopLevel: false, onlyActive: true }));
    assert.ok(!active.includes(alpha.oid));
    assert.ok(!active.includes(sub.oid));
    assert.ok(active.includes(beta.oid));
    const any = ids(await svc('getAllProjects', { onlyTopLevel: false, onlyActive: false }));
    assert.ok(any.includes(alpha.oid), 'deleted projects are kept, not removed');

    assert.equal(await svc('undeleteProject', { poid: alpha.oid }), true);
    assert.equal((await svc('getProjectByPoid', { poid: alpha.oid })).state, 'ACTIVE');
    const back = ids(await svc('getAllProjects', { onlyTopLevel: true, onlyActive: true }));
    assert.ok(back.includes(alpha.oid));
  });
});

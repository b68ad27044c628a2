// Plugin configurations (spec §4.5, ServiceInterface getters of §4.4): the deserializers and
// serializers bimhub offers, as the JS client and a UI would look them up.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { call, closeClient, loggedInClient } from './lib/client.mjs';
import { api, loginToken } from './lib/checkin.mjs';
import { ADMIN_PASSWORD, ADMIN_USER, startServer } from './lib/server.mjs';

const DES = ['Ifc2x3tc1 (Streaming)', 'Ifc4 (Streaming)', 'Ifc4x3 (Streaming)', 'IfcZip 2x3tc1', 'IfcZip 4', 'IfcZip 4x3'];
const SER = ['Ifc (Streaming)', 'Ifc2x3tc1 (Streaming)', 'Ifc4 (Streaming)', 'Ifc4x3 (Streaming)', 'IfcZip'];

describe('plugins', () => {
  let srv;
  let a;
  let o;
  let c;
  let p2x3;
  let p4;
  before(async () => {
    srv = await startServer();
    a = api(srv.url, await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD));
    p2x3 = await a.svc('addProject', { projectName: 'x3', schema: 'ifc2x3tc1' });
    p4 = await a.svc('addProject', { projectName: 'x4', schema: 'ifc4' });
    await a.svc('addUserWithPassword', {
      username: 'pl@bimhub.test', password: 'pl-secret-1', name: 'P', type: 'USER', selfRegistration: false, resetUrl: '',
    });
    o = api(srv.url, await loginToken(srv.url, 'pl@bimhub.test', 'pl-secret-1'));
  });
  after(async () => {
    if (c) await closeClient(c);
    if (srv) await srv.stop();
  });

  test('getAllDeserializers / getAllSerializers list the configurations; oids stable', async () => {
    const des = await a.plugin('getAllDeserializers', { onlyEnabled: true });
    assert.deepEqual(des.map((d) => d.name).sort(), [...DES].sort());
    for (const d of des) assert.equal(d.__type, 'SDeserializerPluginConfiguration');
    const ser = await a.plugin('getAllSerializers', { onlyEnabled: false });
    assert.deepEqual(ser.map((s) => s.name).sort(), [...SER].sort());
    assert.equal(ser[0].name, 'Ifc (Streaming)', 'the any-schema IFC serializer first');
    const again = await a.plugin('getAllSerializers', { onlyEnabled: false });
    assert.deepEqual(again.map((s) => s.oid), ser.map((s) => s.oid), 'stable oids');
    const settings = await a.svc('getUserSettings', {});
    for (const d of des) assert.ok(settings.deserializers.includes(d.oid), `${d.name} in SUserSettings`);
    for (const s of ser) assert.ok(settings.serializers.includes(s.oid), `${s.name} in SUserSettings`);
  });

  test('each user has their own configurations', async () => {
    const mine = await a.plugin('getAllSerializers', { onlyEnabled: true });
    const theirs = await o.plugin('getAllSerializers', { onlyEnabled: true });
    assert.deepEqual(theirs.map((s) => s.name).sort(), mine.map((s) => s.name).sort());
    const mineIds = new Set(mine.map((s) => s.oid));
    assert.ok(theirs.every((s) => !mineIds.has(s.oid)), 'different oids');
  });

  test('getAllDeserializersForProject / getAllSerializersForPoids / ForRoids filter by schema', async () => {
    const d3 = (await a.plugin('getAllDeserializersForProject', { onlyEnabled: true, poid: p2x3.oid })).map((d) => d.name);
    assert.deepEqual(d3.sort(), ['Ifc2x3tc1 (Streaming)', 'IfcZip 2x3tc1']);
    const d4 = (await a.plugin('getAllDeserializersForProject', { onlyEnabled: true, poid: p4.oid })).map((d) => d.name);
    assert.deepEqual(d4.sort(), ['Ifc4 (Streaming)', 'IfcZip 4']);
    const s4 = (await a.plugin('getAllSerializersForPoids', { onlyEnabled: true, poids: [p4.oid] })).map((s) => s.name);
    assert.ok(s4.includes('Ifc4 (Streaming)') && s4.includes('Ifc (Streaming)') && !s4.includes('Ifc2x3tc1 (Streaming)'), s4.join());
    const sr = await a.plugin('getAllSerializersForRoids', { onlyEnabled: true, roids: [] });
    assert.ok(Array.isArray(sr));
  });

  test('getDefaultSerializer, getSerializerByPluginClassName and its messaging alias', async () => {
    const def = await a.plugin('getDefaultSerializer', {});
    assert.equal(def.__type, 'SSerializerPluginConfiguration');
    assert.equal(def.name, 'Ifc (Streaming)');
    const cls = 'org.bimserver.ifc.step.serializer.IfcStepStreamingSerializerPlugin';
    const byCls = await a.plugin('getSerializerByPluginClassName', { pluginClassName: cls });
    assert.equal(byCls.__type, 'SSerializerPluginConfiguration');
    const desc = await a.plugin('getPluginDescriptor', { oid: byCls.pluginDescriptorId });
    assert.equal(desc.__type, 'SPluginDescriptor');
    assert.equal(desc.pluginClassName, cls);
    const alias = await a.plugin('getMessagingSerializerByPluginClassName', { pluginClassName: cls });
    assert.equal(alias.oid, byCls.oid);
    const exc = await a.err('PluginInterface', 'getSerializerByPluginClassName',
      { pluginClassName: 'org.bimserver.serializers.JsonStreamingSerializerPlugin' });
    assert.match(exc.message, /No plugin found/);
    assert.deepEqual(await a.plugin('getPluginDescriptor', { oid: -1 }), {});
  });

  test('hasActiveSerializer, getSerializerByContentType/ById/ByName, getDeserializerById/ByName', async () => {
    assert.equal(await a.plugin('hasActiveSerializer', { contentType: 'application/ifc' }), true);
    assert.equal(await a.plugin('hasActiveSerializer', { contentType: 'application/x-nothing' }), false);
    const byCt = await a.svc('getSerializerByContentType', { contentType: 'application/zip' });
    assert.equal(byCt.name, 'IfcZip');
    const byName = await a.svc('getSerializerByName', { serializerName: 'Ifc4 (Streaming)' });
    assert.equal((await a.svc('getSerializerById', { oid: byName.oid })).name, 'Ifc4 (Streaming)');
    const d = await a.svc('getDeserializerByName', { deserializerName: 'IfcZip 4' });
    assert.equal((await a.svc('getDeserializerById', { oid: d.oid })).name, 'IfcZip 4');
  });

  test('getSuggestedDeserializerForExtension: .ifc / ifczip per project schema; unknown → {}', async () => {
    assert.equal((await a.svc('getSuggestedDeserializerForExtension', { extension: 'ifc', poid: p2x3.oid })).name,
      'Ifc2x3tc1 (Streaming)');
    assert.equal((await a.svc('getSuggestedDeserializerForExtension', { extension: '.ifc', poid: p4.oid })).name,
      'Ifc4 (Streaming)');
    assert.equal((await a.svc('getSuggestedDeserializerForExtension', { extension: 'ifczip', poid: p4.oid })).name,
      'IfcZip 4');
    assert.deepEqual(await a.svc('getSuggestedDeserializerForExtension', { extension: 'dwg', poid: p4.oid }), {});
  });

  test('the JS client finds serializers through its own calls', async () => {
    ({ client: c } = await loggedInClient(srv.url, ADMIN_USER, ADMIN_PASSWORD));
    const list = await call(c, 'PluginInterface', 'getAllSerializers', { onlyEnabled: true });
    assert.equal(list.length, SER.length);
  });
});

// A full disk: the data directory on a small tmpfs that the test fills. Calls that must write
// answer with a clear storage error (not "out of memory"), /stream hands out no endpoint id
// it could not store, and once room is made the server works again, nothing lost.
// Mounting needs root (as `make test` runs in CI); elsewhere the test says it was skipped.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { api, loginToken } from './lib/checkin.mjs';
import { ADMIN_PASSWORD, ADMIN_USER, startServer } from './lib/server.mjs';
import { openStream } from './lib/client.mjs';

function tryMount(dir)
{
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Fills the file system of dir until write() fails; returns the filler's path. */
function fill(dir)
{
  const filler = path.join(dir, 'filler');
  const fd = fs.openSync(filler, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (e) {
    assert.equal(e.code, 'ENOSPC');
  }
  try {
    for (;;) fs.writeSync(fd, chunk, 0, 512);
  } catch { /* full to the last block */ }
  fs.closeSync(fd);
  return filler;
}

describe('a full disk', () => {
  const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'bimhub-full-'));
  const mounted = process.getuid?.() === 0 && tryMount(mnt);
  let srv;

  before(async () => {
    if (!mounted) return;
    srv = await startServer({ args: ['--data-dir', path.join(mnt, 'data')] });
  });
  after(async () => {
    if (srv) await srv.stop();
    if (mounted) execFileSync('umount', [mnt]);
    fs.rmSync(mnt, { recursive: true, force: true });
  });

  test('writes fail with a storage error, /stream gives no unstored id, and it recovers', { skip: mounted
    ? false : 'needs root to mount a tmpfs' }, async () => {
    const a = api(srv.url, await loginToken(srv.url, ADMIN_USER, ADMIN_PASSWORD));
    const u = await a.svc('addUserWithPassword', { username: 'late@full.test', password: 'late-secret-1',
      name: 'late', type: 'USER', selfRegistration: false, resetUrl: '' });
    const late = api(srv.url, await loginToken(srv.url, 'late@full.test', 'late-secret-1'));
    const filler = fill(mnt);

    // the first look-up of a serializer makes its configuration oid for this user: a write
    const e = await late.svcErr('getSerializerByContentType', { contentType: 'application/ifc' });
    assert.doesNotMatch(e.message, /out of memory/i);
    assert.match(e.message, /Cannot store/);
    const s = await openStream(srv.url);
    await s.next();
    s.sendJson({ token: late.token });
    const reply = (await s.next()).json;
    assert.equal(reply.endpointid, undefined, JSON.stringify(reply));
    assert.match(reply.error, /Cannot store the endpoint/);
    s.close();

    fs.rmSync(filler);
    const ser = await late.svc('getSerializerByContentType', { contentType: 'application/ifc' });
    assert.equal(typeof ser.oid, 'number');
    assert.equal((await a.svc('getUserByUoid', { uoid: u.oid })).username, 'late@full.test');
  });
});

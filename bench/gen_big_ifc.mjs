#!/usr/bin/env node
// gen_big_ifc.mjs: makes a large, valid IFC STEP file from a real one by repeating its DATA
// section with renumbered entity ids (copy k adds k * maxId to every #N), so every id is
// unique and every reference points into its own copy. Header and schema stay those of the
// source file.
//
//   node bench/gen_big_ifc.mjs SOURCE.ifc TARGET_MB OUT.ifc
//
// As a module: import { bigIfcChunks } from './gen_big_ifc.mjs';
//   for (const buf of bigIfcChunks(sourceBuffer, targetBytes)) ...   // header, copies, footer
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Yields Buffers: the header up to and including "DATA;", N renumbered copies, the footer. */
export function* bigIfcChunks(src, targetBytes)
{
  const text = src.toString('latin1');
  const dataAt = text.search(/^DATA;/m);
  const endAt = text.lastIndexOf('ENDSEC;');
  if (dataAt < 0 || endAt < dataAt) throw new Error('no DATA section');
  const head = text.slice(0, dataAt) + text.slice(dataAt).match(/^DATA;\r?\n?/)[0];
  const body = text.slice(head.length, endAt);
  const foot = text.slice(endAt);
  // split the body once into literal pieces and ids
  const pieces = [];
  const ids = [];
  let last = 0;
  let maxId = 0;
  for (const m of body.matchAll(/#(\d+)/g)) {
    pieces.push(body.slice(last, m.index + 1));
    const id = Number(m[1]);
    ids.push(id);
    if (id > maxId) maxId = id;
    last = m.index + m[0].length;
  }
  const tail = body.slice(last);
  const copies = Math.max(1, Math.ceil((targetBytes - head.length - foot.length) / body.length));
  yield Buffer.from(head, 'latin1');
  for (let k = 0; k < copies; k++) {
    const off = k * maxId;
    const parts = new Array(pieces.length * 2 + 1);
    for (let i = 0; i < pieces.length; i++) {
      parts[2 * i] = pieces[i];
      parts[2 * i + 1] = String(ids[i] + off);
    }
    parts[pieces.length * 2] = tail;
    yield Buffer.from(parts.join(''), 'latin1');
  }
  yield Buffer.from(foot, 'latin1');
}

/** Writes the file; returns its size in bytes. */
export function writeBigIfc(sourcePath, targetBytes, outPath)
{
  const src = fs.readFileSync(sourcePath);
  const fd = fs.openSync(outPath, 'w');
  let size = 0;
  try {
    for (const b of bigIfcChunks(src, targetBytes)) {
      fs.writeSync(fd, b);
      size += b.length;
    }
  } finally {
    fs.closeSync(fd);
  }
  return size;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === fs.realpathSync(process.argv[1])) {
  const [source, mb, out] = process.argv.slice(2);
  if (!source || !mb || !out) {
    console.error('usage: gen_big_ifc.mjs SOURCE.ifc TARGET_MB OUT.ifc');
    process.exit(2);
  }
  const size = writeBigIfc(source, Number(mb) * 1e6, out);
  console.log(`${out}: ${size} bytes`);
}

#!/usr/bin/env node
// Writes <dir>/index.json listing every served model folder and its files, so the page can offer
// each ONNX variant of the built-in models without probing the server for files that may not exist.
// Usage: node scripts/served-models-index.mjs public/models
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: served-models-index.mjs <models-dir>');
  process.exit(2);
}

function filesOf(root, sub = '') {
  const out = [];
  for (const name of readdirSync(path.join(root, sub)).sort()) {
    const rel = sub ? `${sub}/${name}` : name;
    const st = statSync(path.join(root, rel));
    if (st.isDirectory()) out.push(...filesOf(root, rel));
    else out.push({ path: rel, bytes: st.size });
  }
  return out;
}

const models = readdirSync(dir)
  .filter((name) => statSync(path.join(dir, name)).isDirectory())
  .sort()
  .map((id) => ({ id, files: filesOf(path.join(dir, id)) }));
writeFileSync(path.join(dir, 'index.json'), `${JSON.stringify({ models }, null, 2)}\n`);

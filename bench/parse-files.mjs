#!/usr/bin/env node
// Times tsnix's parser and binder alone (needs `npm run build`) over the .nix
// files of a directory, e.g. the parse-import tree kept by
// `shared/tools/bench --no-ref --runs 1 --only parse-import --keep`:
//
//   node bench/parse-files.mjs DIR [ROUNDS]
//
// Prints the best round's time for lexing+parsing and for binding.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { parse, Source } = await import(pathToFileURL(path.join(root, 'dist/grammar/index.js')).href);
const { bind } = await import(pathToFileURL(path.join(root, 'dist/grammar/bind.js')).href);
const dir = process.argv[2];
const rounds = Number(process.argv[3] ?? 5);
const files = [];
const walk = (d) => {
  for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.nix')) files.push([p, fs.readFileSync(p, 'latin1')]);
  }
};
walk(dir);
const globals = new Set(['builtins', 'true', 'false', 'null', 'import', 'map', 'toString', 'throw', 'abort', 'baseNameOf', 'derivation', 'removeAttrs', 'isNull', 'dirOf', 'fetchTarball', 'placeholder', 'scopedImport', '__currentSystem']);
let bestP = Infinity;
let bestB = Infinity;
for (let r = 0; r < rounds; r++) {
  let tp = 0;
  let tb = 0;
  for (const [p, text] of files) {
    const src = new Source(p, p, text);
    const t0 = performance.now();
    const e = parse(src, { basePath: path.dirname(p) });
    const t1 = performance.now();
    try {
      bind(e, src, { globals });
    } catch {
      // (unknown globals: the timing is what matters)
    }
    tb += performance.now() - t1;
    tp += t1 - t0;
  }
  bestP = Math.min(bestP, tp);
  bestB = Math.min(bestB, tb);
}
console.log(`${files.length} files: parse ${bestP.toFixed(0)} ms, bind ${bestB.toFixed(0)} ms (best of ${rounds})`);

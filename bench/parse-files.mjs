#!/usr/bin/env node
// Times tsnix's parser and binder alone (needs `npm run build`) over the .nix
// files of a directory, e.g. the parse-import tree kept by
// `shared/tools/bench --no-ref --runs 1 --only parse-import --keep`:
//
//   node bench/parse-files.mjs DIR [ROUNDS]
//
// Prints the best round's time for lexing+parsing and for binding.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadGrammar, parseAndBind, readNixFiles } from './parse-common.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const grammar = await loadGrammar(root);
const files = readNixFiles(process.argv[2]);
const rounds = Number(process.argv[3] ?? 5);
let bestP = Infinity;
let bestB = Infinity;
for (let r = 0; r < rounds; r++) {
  const { parseMs, bindMs } = parseAndBind(grammar, files);
  bestP = Math.min(bestP, parseMs);
  bestB = Math.min(bestB, bindMs);
}
console.log(`${files.length} files: parse ${bestP.toFixed(0)} ms, bind ${bestB.toFixed(0)} ms (best of ${rounds})`);

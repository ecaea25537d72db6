#!/usr/bin/env node
// Cold-start parse cost, as `instantiate` sees it: each run is a fresh Node
// process that parses and binds every .nix file of DIR once (JIT warm-up and
// GC included), keeping the ASTs alive as the evaluator does.  Prints the
// minimum over RUNS processes of the CPU time (user+sys) spent in that loop,
// and of its wall time split into parse and bind.  Needs `npm run build`.
//
//   node bench/parse-cold.mjs DIR [RUNS] [--vs OTHER_ROOT]
//
// With --vs, runs alternate between this checkout and OTHER_ROOT (another
// built copy of tsnix) and both are shown.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadGrammar, parseAndBind, readNixFiles } from './parse-common.mjs';

const args = process.argv.slice(2);
const vsAt = args.indexOf('--vs');
const other = vsAt >= 0 ? path.resolve(args.splice(vsAt, 2)[1]) : null;
const root = process.env.PARSE_COLD_ROOT ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = args[0];

if (process.env.PARSE_COLD_CHILD) {
  const grammar = await loadGrammar(root);
  const files = readNixFiles(dir);
  const keep = [];
  const c0 = process.cpuUsage();
  const { parseMs, bindMs } = parseAndBind(grammar, files, keep);
  const c = process.cpuUsage(c0);
  console.log(JSON.stringify({ cpu: (c.user + c.system) / 1000, parse: parseMs, bind: bindMs, n: keep.length }));
} else {
  const runs = Number(args[1] ?? 5);
  const roots = other ? [root, other] : [root];
  const best = roots.map(() => ({ cpu: Infinity, parse: Infinity, bind: Infinity }));
  let n = 0;
  for (let r = 0; r < runs; r++) {
    roots.forEach((dirRoot, j) => {
      const p = spawnSync(process.execPath, ['--stack-size=943206', fileURLToPath(import.meta.url), dir], {
        env: { ...process.env, PARSE_COLD_CHILD: '1', PARSE_COLD_ROOT: dirRoot },
        encoding: 'utf8',
      });
      if (p.status !== 0) {
        console.error(p.stderr);
        process.exit(1);
      }
      const x = JSON.parse(p.stdout);
      n = x.n;
      for (const k of ['cpu', 'parse', 'bind']) best[j][k] = Math.min(best[j][k], x[k]);
    });
  }
  roots.forEach((dirRoot, j) => {
    const b = best[j];
    console.log(`${dirRoot}: ${n} files, cold: cpu ${b.cpu.toFixed(0)} ms, parse ${b.parse.toFixed(0)} ms, bind ${b.bind.toFixed(0)} ms (min of ${runs} processes)`);
  });
}

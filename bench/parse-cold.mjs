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
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const vsAt = args.indexOf('--vs');
const other = vsAt >= 0 ? path.resolve(args.splice(vsAt, 2)[1]) : null;
const root = process.env.PARSE_COLD_ROOT ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = args[0];

if (process.env.PARSE_COLD_CHILD) {
  const { parse, Source } = await import(pathToFileURL(path.join(root, 'dist/grammar/index.js')).href);
  const { bind } = await import(pathToFileURL(path.join(root, 'dist/grammar/bind.js')).href);
  const files = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.nix')) files.push([p, fs.readFileSync(p, 'latin1')]);
    }
  };
  walk(dir);
  // (with the builtins that the parser's desugarings use, so that binding goes through every file)
  const globals = new Set(['builtins', 'true', 'false', 'null', 'import', 'map', 'toString', 'throw', 'abort', 'baseNameOf', 'derivation', 'removeAttrs', 'isNull', 'dirOf', 'fetchTarball', 'placeholder', 'scopedImport', '__currentSystem', '__sub', '__mul', '__div', '__lessThan', '__findFile', '__nixPath']);
  const keep = [];
  let tp = 0;
  let tb = 0;
  const c0 = process.cpuUsage();
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
    keep.push(e);
  }
  const c = process.cpuUsage(c0);
  console.log(JSON.stringify({ cpu: (c.user + c.system) / 1000, parse: tp, bind: tb, n: keep.length }));
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

/**
 * NAR benchmark (not a test; vitest ignores it). Compile it with the store
 * sources, e.g. with a throw-away tsconfig that extends ../../tsconfig.json,
 * includes src/store and this file and sets outDir, then:
 *
 *   node bench-nar.js make DIR             # 100 MB of random data in 5 000 files (50 dirs x 100 x 20 KiB)
 *   node bench-nar.js hash DIR             # NAR sha256, like `nix-hash --type sha256 DIR`
 *   node bench-nar.js add DIR STOREDIR     # copyPath into STOREDIR (hash + canonical copy + rename),
 *                                          # like `nix-store --add DIR` without the database
 *
 * Prints the time spent in-process (without Node's start-up) on stderr.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, basename } from 'node:path';
import { copyPath, hashPathSync } from '../../src/store/nar.js';
import { makeSourcePath } from '../../src/store/store-path.js';

async function main(): Promise<void> {
  const [cmd, dir, storeDir] = process.argv.slice(2);
  if (!cmd || !dir) throw new Error('usage: bench-nar make|hash|add DIR [STOREDIR]');
  const t0 = process.hrtime.bigint();
  if (cmd === 'make') {
    mkdirSync(dir);
    for (let d = 0; d < 50; d++) {
      mkdirSync(join(dir, `d${d}`));
      for (let f = 0; f < 100; f++) writeFileSync(join(dir, `d${d}`, `f${f}`), randomBytes(20 * 1024));
    }
  } else if (cmd === 'hash') {
    const r = hashPathSync(dir);
    console.log(r.hash.toBase16(), r.narSize);
  } else if (cmd === 'add') {
    if (!storeDir) throw new Error('add needs STOREDIR');
    const tmp = join(storeDir, `.tmp-add-${process.pid}`);
    const r = await copyPath(dir, tmp, { hashAlgo: 'sha256', canonicalise: true });
    const path = makeSourcePath(basename(dir), r.hash!, [], storeDir);
    renameSync(tmp, path);
    console.log(path);
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  console.error(`${cmd}: ${ms.toFixed(0)} ms in-process`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

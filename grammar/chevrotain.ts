// Loads Chevrotain.  The package's ESM entry point pulls in several hundred
// small modules (lodash-es), which costs ~350 ms at start-up; the package also
// ships a single-file bundle of the very same code, which loads in ~15 ms.
// We load that bundle (falling back to the regular entry point) once, at
// module evaluation time, with top-level await.

import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

type ChevrotainModule = typeof import('chevrotain');

async function load(): Promise<ChevrotainModule> {
  try {
    const req = createRequire(import.meta.url);
    const entry = req.resolve('chevrotain'); // …/chevrotain/lib/src/api.js
    const bundle = path.join(path.dirname(entry), '..', 'chevrotain.min.mjs');
    const m = (await import(pathToFileURL(bundle).href)) as ChevrotainModule;
    if (typeof m.EmbeddedActionsParser === 'function' && typeof m.createToken === 'function') return m;
  } catch {
    // fall through
  }
  return await import('chevrotain');
}

export const chevrotain: ChevrotainModule = await load();

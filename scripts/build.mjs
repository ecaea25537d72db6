#!/usr/bin/env node
// Build step after `tsc`: bundles the CLI into one CommonJS file and makes a
// V8 start-up snapshot of it (dist/tsnix.blob), so that `tsnix` starts
// without loading and compiling ~100 modules or analysing the grammar.
// bin/tsnix uses the snapshot when it exists and matches, else dist/src/.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const bundle = path.join(dist, 'tsnix.cjs');
const blob = path.join(dist, 'tsnix.blob');
// Must equal the value bin/tsnix passes (a snapshot only loads with the same V8 flags).
const STACK_SIZE = 943206;
// The other V8 flags bin/tsnix passes with the snapshot (its `v8flags=` and
// `snapflags=` lines, read from there so that the two cannot differ).
const launcher = fs.readFileSync(path.join(root, 'bin/tsnix'), 'utf8');
const flagsLine = (name) => {
  const m = new RegExp(`^${name}="([^"]*)"$`, 'm').exec(launcher);
  if (!m) throw new Error(`build: bin/tsnix has no ${name}="..." line`);
  return m[1].split(' ').filter(Boolean);
};
const V8_FLAGS = [...flagsLine('v8flags'), ...flagsLine('snapflags')];

// grammar/chevrotain.ts loads Chevrotain's single-file build with top-level
// await (fast without a bundle); in the bundle a static import does it.
const staticChevrotain = {
  name: 'static-chevrotain',
  setup(b) {
    b.onResolve({ filter: /\/chevrotain\.js$/ }, (args) =>
      args.importer.includes(`${path.sep}grammar${path.sep}`) ? { path: 'chevrotain-static', namespace: 'tsnix' } : undefined,
    );
    b.onLoad({ filter: /^chevrotain-static$/, namespace: 'tsnix' }, () => ({
      contents: "import * as c from 'chevrotain'; export const chevrotain = c;",
      resolveDir: root,
      loader: 'js',
    }));
  },
};

// The REPL's interface (Ink, React and src/repl/app.tsx) as one ES module:
// loading it takes about a third of the time of the separate modules.
// Ink's optional devtools import is stubbed (only used with DEV=true).
const stubDevtools = {
  name: 'stub-devtools',
  setup(b) {
    b.onResolve({ filter: /^react-devtools-core$/ }, () => ({ path: 'devtools-stub', namespace: 'tsnix' }));
    b.onLoad({ filter: /^devtools-stub$/, namespace: 'tsnix' }, () => ({
      contents: 'export default { initialize() {}, connectToDevTools() {} };',
      loader: 'js',
    }));
  },
};
await esbuild.build({
  stdin: {
    contents: "export * as ink from 'ink'; export * as React from 'react'; export { App } from './dist/src/repl/app.js';",
    resolveDir: root,
    loader: 'js',
  },
  outfile: path.join(dist, 'repl-ui.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  define: { 'process.env.NODE_ENV': '"production"' },
  banner: { js: "import { createRequire as __tsnixCreateRequire } from 'node:module'; const require = __tsnixCreateRequire(import.meta.url);" },
  plugins: [stubDevtools],
  logLevel: 'warning',
});

fs.rmSync(blob, { force: true });
await esbuild.build({
  entryPoints: [path.join(dist, 'src/cli/snapshot-entry.js')],
  outfile: bundle,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['better-sqlite3', 'ink', 'react', 'ink-testing-library'],
  define: { 'import.meta.url': '__tsnix_module_url' },
  banner: { js: "const __tsnix_module_url = require('node:url').pathToFileURL(__filename).href;" },
  // Whitespace and syntax only (names are kept): the source is part of the
  // snapshot, and a smaller snapshot loads faster (9.1 -> 7.2 MB, ~8 ms less
  // per start).
  minifyWhitespace: true,
  minifySyntax: true,
  plugins: [staticChevrotain],
  logLevel: 'warning',
});
const r = spawnSync(process.execPath, [`--stack-size=${STACK_SIZE}`, ...V8_FLAGS, '--snapshot-blob', blob, '--build-snapshot', bundle], {
  stdio: 'inherit',
  cwd: root,
});
if (r.status !== 0) {
  fs.rmSync(blob, { force: true });
  console.error('build: the start-up snapshot could not be built; tsnix will start without it');
} else {
  console.log(`build: ${path.relative(root, blob)} (${(fs.statSync(blob).size / 1e6).toFixed(1)} MB)`);
}

// Shared by bench/parse-files.mjs and bench/parse-cold.mjs: the .nix files of a
// directory, and one timed parse+bind pass over them with the built grammar.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** The built grammar (dist/) of the tsnix checkout at `root`. */
export async function loadGrammar(root) {
  const { parse, Source } = await import(pathToFileURL(path.join(root, 'dist/grammar/index.js')).href);
  const { bind } = await import(pathToFileURL(path.join(root, 'dist/grammar/bind.js')).href);
  return { parse, Source, bind };
}

/** [path, text] of every .nix file below `dir`. */
export function readNixFiles(dir) {
  const files = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.nix')) files.push([p, fs.readFileSync(p, 'latin1')]);
    }
  };
  walk(dir);
  return files;
}

// (with the builtins that the parser's desugarings use, so that binding goes through every file)
const GLOBALS = new Set(['builtins', 'true', 'false', 'null', 'import', 'map', 'toString', 'throw', 'abort', 'baseNameOf', 'derivation', 'removeAttrs', 'isNull', 'dirOf', 'fetchTarball', 'placeholder', 'scopedImport', '__currentSystem', '__sub', '__mul', '__div', '__lessThan', '__findFile', '__nixPath']);

/** Parses and binds every file once; the wall time of each phase (ms). `keep` gets the ASTs if given. */
export function parseAndBind({ parse, Source, bind }, files, keep) {
  let parseMs = 0;
  let bindMs = 0;
  for (const [p, text] of files) {
    const src = new Source(p, p, text);
    const t0 = performance.now();
    const e = parse(src, { basePath: path.dirname(p) });
    const t1 = performance.now();
    try {
      bind(e, src, { globals: GLOBALS });
    } catch {
      // (unknown globals: the timing is what matters)
    }
    bindMs += performance.now() - t1;
    parseMs += t1 - t0;
    keep?.push(e);
  }
  return { parseMs, bindMs };
}

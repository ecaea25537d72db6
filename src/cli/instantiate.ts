// `tsnix instantiate`: nix-instantiate's flags and output.

import fs from 'node:fs';
import path from 'node:path';
import { Source } from '../../grammar/ast.js';
import { toBytes } from '../../grammar/errors.js';
import { printExpr } from '../../grammar/print.js';
import { NixError } from '../eval/errors.js';
import { callN, forceDeep } from '../eval/ops.js';
import { NixPath, force } from '../eval/value.js';
import { printInstantiate } from '../eval/print.js';
import { writeValueJSON } from '../eval/builtins/json.js';
import { valueToXML } from '../eval/builtins/xml.js';
import { autoCall, cwdBytes, evalInput, inputsOf, makeSettings, makeState, newCommonOptions, parseCommonFlag, reportError, selectAttrPath, type CommonOptions } from './common.js';
import type { Settings } from '../eval/settings.js';
import { getDerivations } from '../eval/get-derivations.js';
import { UsageError, needValue, readStdin, writeErr, writeOut, writeOutBytes } from './util.js';

export async function instantiate(args: string[]): Promise<number> {
  const o = newCommonOptions();
  let mode: 'instantiate' | 'eval' | 'parse' | 'find-file' = 'instantiate';
  let strict = false;
  let json = false;
  let xml = false;
  let location = true;
  let readFromExpr = false;
  const attrPaths: string[] = [];
  let addRoot: string | undefined;
  const files: string[] = [];
  for (let i = 0; i < args.length; ) {
    const a = args[i]!;
    const n = parseCommonFlag(args, i, o);
    if (n) {
      i += n;
      continue;
    }
    switch (a) {
      case '--parse':
        mode = 'parse';
        break;
      case '--find-file':
        mode = 'find-file';
        break;
      case '--eval':
      case '--eval-only':
        mode = 'eval';
        break;
      case '--strict':
        strict = true;
        break;
      case '--json':
        json = true;
        break;
      case '--xml':
        xml = true;
        break;
      case '--no-location':
        location = false;
        break;
      case '-E':
      case '--expr':
        readFromExpr = true;
        break;
      case '-A':
      case '--attr':
        attrPaths.push(needValue(args, i, a));
        i++;
        break;
      case '--read-write-mode':
      case '--readonly-mode':
      case '--indirect':
      case '--dry-run':
        break;
      case '--add-root':
        addRoot = needValue(args, i, a);
        i++;
        break;
      default:
        if (a.startsWith('-') && a !== '-') throw new UsageError(`unrecognised flag '${a}'`);
        files.push(a);
    }
    i++;
  }
  const settings = makeSettings(o);
  const showTrace = settings.showTrace;

  if (mode === 'find-file') {
    // each operand looked up in the search path (-I, NIX_PATH), as `<operand>` would be
    const state = makeState(o, settings);
    try {
      const findFile = state.builtins.get('findFile')!;
      const nixPath = state.builtins.get('nixPath')!;
      for (const name of files) {
        let p: NixPath; // (what findFile returns)
        try {
          p = force(callN(force(findFile), [nixPath, toBytes(name)], null)) as NixPath;
        } catch (e) {
          // (CppNix's lookup is not a builtin call here: the message alone)
          throw e instanceof NixError ? new NixError(e.msg, null) : e;
        }
        writeOut(p.path + '\n');
      }
      return 0;
    } catch (e) {
      return reportError(e, showTrace, 'nix-instantiate');
    }
  }

  if (mode === 'parse') {
    const state = makeState(o, settings);
    try {
      for (const inp of inputsOf(readFromExpr, files, '-')) {
        let src: Source;
        let base: string;
        if ('expr' in inp) {
          src = new Source(null, toBytes('«string»'), toBytes(inp.expr!));
          base = cwdBytes();
        } else if (inp.file === '-') {
          src = new Source(null, toBytes('«stdin»'), readStdin());
          base = cwdBytes();
        } else {
          const p = toBytes(path.resolve(inp.file!));
          src = new Source(p, p, fs.readFileSync(path.resolve(inp.file!)).toString('latin1'));
          base = toBytes(path.dirname(path.resolve(inp.file!)));
        }
        const e = state.parseSource(src, base, null, false);
        writeOut(printExpr(e) + '\n');
      }
      return 0;
    } catch (e) {
      return reportError(e, showTrace, 'nix-instantiate');
    }
  }

  if (mode === 'instantiate') return await instantiateDerivations(o, settings, readFromExpr, files, attrPaths, addRoot);

  const state = makeState(o, settings);
  try {
    for (const inp of inputsOf(readFromExpr, files)) {
      const root = evalInput(state, inp);
      for (const ap of attrPaths.length ? attrPaths : ['']) {
        let v = selectAttrPath(state, root, ap, o);
        v = autoCall(state, v, o);
        if (xml) {
          writeOut(valueToXML(v, { location, strict }));
          continue;
        }
        if (strict) v = forceDeep(v);
        // (no newline, as nix-instantiate 2.8 prints it; paths are copied to the
        // store, as CppNix's nix-instantiate does: computed, not written, see makeState)
        if (json) writeValueJSON(v, { ctx: new Set() }, writeOutBytes, true);
        else {
          printInstantiate(v, writeOut);
          writeOut('\n');
        }
      }
    }
    return 0;
  } catch (e) {
    return reportError(e, showTrace, 'nix-instantiate');
  }
}

/** nix-instantiate without --eval: write the .drv files and print their paths. */
async function instantiateDerivations(
  o: CommonOptions,
  settings: Settings,
  readFromExpr: boolean,
  files: string[],
  attrPaths: string[],
  addRoot: string | undefined,
): Promise<number> {
  const { LocalStore } = await import('../store/local-store.js');
  const store = new LocalStore({ autoCommit: false });
  const state = makeState(o, settings, store);
  try {
    const paths: string[] = [];
    for (const inp of inputsOf(readFromExpr, files)) {
      const root = evalInput(state, inp);
      for (const ap of attrPaths.length ? attrPaths : ['']) {
        let v = selectAttrPath(state, root, ap, o);
        v = autoCall(state, v, o);
        for (const d of getDerivations(v)) paths.push(d.outputName === 'out' ? d.drvPath : `${d.drvPath}!${d.outputName}`);
      }
    }
    store.commit();
    if (addRoot === undefined) {
      if (paths.length) writeErr("warning: you did not specify '--add-root'; the result might be removed by the garbage collector\n");
      for (const p of paths) writeOut(p + '\n');
    } else {
      const { addIndirectRoot } = await import('../store/gc-roots.js');
      paths.forEach((p, i) => {
        const link = i === 0 ? addRoot : `${addRoot}-${i}`;
        writeOut(addIndirectRoot(store, p.replace(/!.*$/, ''), link) + '\n');
      });
    }
    return 0;
  } catch (e) {
    store.commit();
    return reportError(e, settings.showTrace, 'nix-instantiate');
  } finally {
    store.close();
  }
}

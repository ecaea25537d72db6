// `tsnix derivation show [-r] [--pretty | --no-pretty] DRV… | FILE.nix | -E EXPR [-A ATTR]`:
// the JSON of derivations, as current CppNix's `nix derivation show` prints it
// (`{"derivations": {…}, "version": 4}`, see showDerivationJsonV4).  Derivations
// found by evaluation are written to the store first (as `nix derivation show`
// does); `-r` adds every derivation in their reference closure.  As CppNix, the
// JSON is indented only when stdout is a terminal, unless --pretty/--no-pretty.

import { getDerivations } from '../eval/get-derivations.js';
import { autoCall, evalInput, makeSettings, makeState, newCommonOptions, parseCommonFlag, reportError, selectAttrPath } from './common.js';
import { UsageError, needValue, writeOut } from './util.js';
import { toBytes } from '../../grammar/errors.js';
import path from 'node:path';

export async function derivationCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'show') throw new UsageError(`'tsnix derivation' needs a subcommand: show`);
  const o = newCommonOptions();
  let expr: string | undefined;
  let attr = '';
  let recursive = false;
  let pretty = process.stdout.isTTY === true;
  const targets: string[] = [];
  for (let i = 0; i < rest.length; ) {
    const n = parseCommonFlag(rest, i, o);
    if (n) {
      i += n;
      continue;
    }
    const a = rest[i]!;
    if (a === '-E' || a === '--expr') {
      expr = needValue(rest, i, a);
      i += 2;
      continue;
    }
    if (a === '-r' || a === '--recursive') {
      recursive = true;
      i++;
      continue;
    }
    if (a === '--pretty' || a === '--no-pretty') {
      pretty = a === '--pretty';
      i++;
      continue;
    }
    if (a === '-A' || a === '--attr') {
      attr = needValue(rest, i, a);
      i += 2;
      continue;
    }
    if (a.startsWith('-')) throw new UsageError(`unrecognised flag '${a}'`);
    targets.push(a);
    i++;
  }
  const settings = makeSettings(o);
  const { LocalStore } = await import('../store/local-store.js');
  const { showDerivationJsonV4 } = await import('../store/derivation.js');
  const store = new LocalStore({ autoCommit: false });
  const state = makeState(o, settings, store);
  try {
    const drvPaths: string[] = [];
    const fromEval = (inp: { expr?: string; file?: string }) => {
      let v = selectAttrPath(state, evalInput(state, inp), attr, o);
      v = autoCall(state, v, o);
      for (const d of getDerivations(v)) drvPaths.push(d.drvPath);
    };
    if (expr !== undefined) fromEval({ expr });
    for (const t of targets) {
      if (t.endsWith('.drv')) drvPaths.push(store.followLinksToStorePath(toBytes(path.resolve(t))));
      else fromEval({ file: t });
    }
    if (expr === undefined && targets.length === 0) fromEval({ file: 'default.nix' });
    store.commit();
    let shown: Iterable<string> = drvPaths;
    if (recursive) shown = [...store.computeClosure(drvPaths)].filter((p) => p.endsWith('.drv'));
    const unique = [...new Set(shown)];
    writeOut(showDerivationJsonV4(unique.map((p) => [p, store.readDerivation(p)]), { pretty }));
    return 0;
  } catch (e) {
    return reportError(e, settings.showTrace);
  } finally {
    store.close();
  }
}

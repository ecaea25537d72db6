// `tsnix eval`: the friendly evaluation command (`tsnix eval -E '1 + 2'`,
// `tsnix eval --file f.nix`, `--json`).  Output is strict, like `nix eval`.

import { forceDeep } from '../eval/ops.js';
import { printValue } from '../eval/print.js';
import { autoCall, evalInput, makeSettings, makeState, newCommonOptions, parseCommonFlag, reportError, selectAttrPath } from './common.js';
import { UsageError, needValue, writeOut, writeOutBytes } from './util.js';
import { NixError } from '../eval/errors.js';
import { writeValueJSON } from '../eval/builtins/json.js';
import { NixStr } from '../eval/value.js';

export async function evalCommand(args: string[]): Promise<number> {
  const o = newCommonOptions();
  let expr: string | undefined;
  let file: string | undefined;
  let json = false;
  let raw = false;
  let attr = '';
  for (let i = 0; i < args.length; ) {
    const n = parseCommonFlag(args, i, o);
    if (n) {
      i += n;
      continue;
    }
    const a = args[i]!;
    switch (a) {
      case '-E':
      case '--expr':
        expr = needValue(args, i, a);
        i += 2;
        continue;
      case '-f':
      case '--file':
        file = needValue(args, i, a);
        i += 2;
        continue;
      case '-A':
      case '--attr':
        attr = needValue(args, i, a);
        i += 2;
        continue;
      case '--json':
        json = true;
        break;
      case '--raw':
        raw = true;
        break;
      default:
        if (a.startsWith('-')) throw new UsageError(`unrecognised flag '${a}'`);
        if (expr === undefined && file === undefined) expr = a;
        else throw new UsageError(`unexpected argument '${a}'`);
    }
    i++;
  }
  if (expr === undefined && file === undefined) throw new UsageError("'tsnix eval' needs an expression (-E EXPR, or EXPR) or a file (--file FILE)");
  const settings = makeSettings(o);
  const state = makeState(o, settings);
  try {
    let v = evalInput(state, expr !== undefined ? { expr } : { file });
    v = selectAttrPath(state, v, attr, o);
    v = autoCall(state, v, o);
    v = forceDeep(v);
    if (json) {
      writeValueJSON(v, { ctx: new Set() }, writeOutBytes);
      writeOut('\n');
      return 0;
    }
    if (raw) {
      if (typeof v === 'string') writeOut(v);
      else if (v instanceof NixStr) writeOut(v.s);
      else throw new NixError('--raw needs a string value');
      return 0;
    }
    writeOut(printValue(v, { force: true, derivationPaths: true }) + '\n');
    return 0;
  } catch (e) {
    return reportError(e, settings.showTrace);
  }
}

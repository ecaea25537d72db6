// `tsnix show-config [NAME]`: the settings in force.

import { SETTINGS } from '../eval/settings.js';
import { makeSettings, newCommonOptions, parseCommonFlag } from './common.js';
import { UsageError, writeOut } from './util.js';

export function showConfig(args: string[]): number {
  const o = newCommonOptions();
  let name: string | undefined;
  for (let i = 0; i < args.length; ) {
    const n = parseCommonFlag(args, i, o);
    if (n) {
      i += n;
      continue;
    }
    const a = args[i]!;
    if (a.startsWith('-')) throw new UsageError(`unrecognised flag '${a}'`);
    if (name !== undefined) throw new UsageError(`unexpected argument '${a}'`);
    name = a;
    i++;
  }
  const s = makeSettings(o);
  if (name !== undefined) {
    if (!SETTINGS[name]) throw new UsageError(`could not find setting '${name}'`);
    writeOut(s.get(name) + '\n');
    return 0;
  }
  writeOut(s.entries().map(([k, v]) => `${k} = ${v}\n`).join(''));
  return 0;
}

// TOML: fromTOML.  The parser (toml11's behaviour and error reports) is in
// ../toml.ts; here are the builtin, the mapping to Nix values and the
// experimental feature for dates and times.

import { NixError } from '../errors.js';
import { forceStringNoCtx, normInt } from '../ops.js';
import { TomlDateTime, TomlError, parseToml, type TomlValue } from '../toml.js';
import { Attrs, NixFloat, type Value } from '../value.js';
import type { Registry } from './registry.js';

/** The Nix value of a parsed TOML value. */
function toNix(t: TomlValue): Value {
  if (typeof t === 'string' || typeof t === 'boolean') return t;
  if (typeof t === 'bigint') return normInt(t);
  if (Array.isArray(t)) return t.map(toNix);
  if (t instanceof Map) {
    const m = new Map<string, Value>();
    for (const [k, x] of t) m.set(k, toNix(x));
    return new Attrs(m);
  }
  if (t instanceof TomlDateTime) {
    return new Attrs(
      new Map<string, Value>([
        ['_type', 'timestamp'],
        ['value', t.value],
      ]),
    );
  }
  return new NixFloat(t.float);
}

export function register(r: Registry): void {
  const { state } = r;

  r.add({
    name: 'fromTOML',
    args: ['e'],
    doc:
      'Convert a TOML string to a Nix value. For example,\n\n```nix\nbuiltins.fromTOML \'\'\n  x=1\n  s="a"\n  [table]\n  y=2\n\'\'\n```\n\nreturns the value `{ s = "a"; table = { y = 2; }; x = 1; }`.\n\n' +
      'Tables become attribute sets, arrays become lists, and strings, integers, floats and Booleans become the corresponding Nix values. ' +
      'TOML dates and times are rejected, unless the experimental feature `parse-toml-timestamps` is enabled: then each becomes an attribute set `{ _type = "timestamp"; value = "1979-05-27T07:32:00Z"; }` holding its text in a normalised form.',
    fn: ([e]) => {
      const text = forceStringNoCtx(e!, null, 'while evaluating the argument passed to builtins.fromTOML');
      let table;
      try {
        table = parseToml(text, { timestamps: state.settings.experimentalFeatures.has('parse-toml-timestamps') });
      } catch (err) {
        if (err instanceof TomlError) throw new NixError(`while parsing TOML: ${err.message}`);
        throw err;
      }
      return toNix(table);
    },
  });
}

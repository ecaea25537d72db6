// The derivations a value denotes, as nix-instantiate and nix-build find
// them: a derivation itself, the elements of a list, or the attributes of a
// set (recursing into nested sets only where `recurseForDerivations = true`).

import { NixError } from './errors.js';
import { forceString } from './ops.js';
import { Attrs, force, isDerivationAttrs, type Value } from './value.js';
import { ObjectSet } from './object-set.js';

export interface FoundDerivation {
  drvPath: string;
  /** The output selected (`outputName`), "out" by default. */
  outputName: string;
  attrs: Attrs;
}

export function getDerivations(v: Value): FoundDerivation[] {
  const out: FoundDerivation[] = [];
  const seen = new ObjectSet<Attrs>();
  const visit = (v: Value, top: boolean): void => {
    v = force(v);
    if (v instanceof Attrs) {
      if (isDerivationAttrs(v)) {
        if (seen.has(v)) return;
        seen.add(v);
        const dp = v.get('drvPath');
        if (dp === undefined) throw new NixError("attribute 'drvPath' missing");
        const on = v.get('outputName');
        out.push({
          drvPath: forceString(dp, null, "while evaluating the 'drvPath' attribute of a derivation"),
          outputName: on === undefined ? 'out' : forceString(on, null, "while evaluating the 'outputName' attribute of a derivation"),
          attrs: v,
        });
        return;
      }
      const rec = v.get('recurseForDerivations');
      if (!top && !(rec !== undefined && force(rec) === true)) return;
      for (const k of v.keys()) visit(v.get(k)!, false);
      return;
    }
    if (Array.isArray(v)) {
      if (!top) return;
      for (const x of v) visit(x, false);
      return;
    }
    if (top) throw new NixError('expression does not evaluate to a derivation (or a set or list of those)');
  };
  visit(v, true);
  return out;
}

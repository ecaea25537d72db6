// The list of builtin groups.  To add a builtin: put it in the group file it
// belongs to (or a new file with a `register` function listed here).

import type { Registry } from './registry.js';
import { register as arith } from './arith.js';
import { register as attrs } from './attrs.js';
import { register as context } from './context.js';
import { register as control } from './control.js';
import { register as derivation } from './derivation.js';
import { register as fetchers } from './fetchers.js';
import { register as flakes } from './flakes.js';
import { register as hashing } from './hashing.js';
import { register as json } from './json.js';
import { register as lists } from './lists.js';
import { register as paths } from './paths.js';
import { register as regex } from './regex.js';
import { register as strings } from './strings.js';
import { register as toml } from './toml.js';
import { register as unimplemented } from './unimplemented.js';
import { register as versions } from './versions.js';
import { register as xml } from './xml.js';

export function registerAll(r: Registry): void {
  arith(r);
  attrs(r);
  context(r);
  control(r);
  derivation(r);
  fetchers(r);
  flakes(r);
  hashing(r);
  json(r);
  lists(r);
  paths(r);
  regex(r);
  strings(r);
  toml(r);
  versions(r);
  xml(r);
  unimplemented(r);
}

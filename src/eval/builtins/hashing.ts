// Hashing: hashString, hashFile, convertHash.  The hash functions, parsers
// and printers are in src/store/hash.ts; here are the builtins and CppNix's
// messages.

import fs from 'node:fs';
import type { Pos } from '../../../grammar/ast.js';
import { BadHashError, MissingFeatureError, hashString, parseHash, parseHashAlgo, type HashAlgo, type HashFormat } from '../../store/hash.js';
import { NixError, NixUsageError } from '../errors.js';
import { forceAttrs, forceString, forceStringNoCtx } from '../ops.js';
import type { EvalState } from '../state.js';
import type { Attrs, Value } from '../value.js';
import { realisePath } from './paths.js';
import { storeReadBarrier } from '../../store/background-writer.js';
import { toFsPath } from '../../store/fs-path.js';
import { argCtx, type Registry } from './registry.js';

/**
 * Parses an algorithm name; errors carry CppNix's message (no position, like
 * CppNix's usage error).  `blake3` needs the `blake3-hashes` experimental feature.
 */
function parseAlgo(name: string): HashAlgo {
  try {
    return parseHashAlgo(name);
  } catch (e) {
    // CppNix's parseHashAlgo throws a UsageError
    if (e instanceof BadHashError) throw new NixUsageError(e.message);
    if (e instanceof MissingFeatureError) throw new NixError(e.message);
    throw e;
  }
}

/** The base-16 digest of bytes (a byte string or a buffer). */
function base16Digest(algo: HashAlgo, data: string | Uint8Array): string {
  return hashString(algo, data).toBase16();
}

/** A hash format name (`base32` is accepted with a deprecation warning, as in CppNix). */
function parseFormat(state: EvalState, name: string): HashFormat {
  switch (name) {
    case 'base16':
    case 'nix32':
    case 'base64':
    case 'sri':
      return name;
    case 'base32':
      state.warn('"base32" is a deprecated alias for hash format "nix32".');
      return 'nix32';
  }
  throw new NixError(`unknown hash format '${name}', expect 'base16', 'base32', 'base64', or 'sri'`);
}

/** An attribute that must be present (CppNix's "attribute 'x' missing" with a locating frame). */
function requireAttr(a: Attrs, name: string): Value {
  const v = a.get(name);
  if (v === undefined) throw new NixError(`attribute '${name}' missing`).addTrace(`while locating the attribute '${name}'`);
  return v;
}

function readFileBytes(file: string, pos: Pos | null): Buffer {
  storeReadBarrier(file);
  try {
    return fs.readFileSync(toFsPath(file));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new NixError(`path '${file}' does not exist`, pos);
    if (code === 'EISDIR') throw new NixError(`reading file '${file}': Is a directory`, pos);
    throw new NixError(`cannot read '${file}': ${(e as Error).message}`, pos);
  }
}

export function register(r: Registry): void {
  const { state } = r;

  r.add({
    name: 'hashString',
    args: ['type', 's'],
    doc:
      'Return a base-16 representation of the cryptographic hash of string *s*. The hash algorithm specified by *type* must be one of `"md5"`, `"sha1"`, `"sha256"`, `"sha512"` or, with the `blake3-hashes` experimental feature, `"blake3"`.\n\n' +
      'For example, `builtins.hashString "sha256" ""` evaluates to `"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"`.',
    fn: ([type, s]) => {
      const algo = parseAlgo(forceStringNoCtx(type!, null, argCtx('hashString', 0)));
      const str = forceString(s!, null, argCtx('hashString', 1));
      return base16Digest(algo, str);
    },
  });

  r.add({
    name: 'hashFile',
    args: ['type', 'p'],
    doc:
      'Return a base-16 representation of the cryptographic hash of the file at path *p*. The hash algorithm specified by *type* must be one of `"md5"`, `"sha1"`, `"sha256"`, `"sha512"` or, with the `blake3-hashes` experimental feature, `"blake3"`.',
    fn: ([type, p]) => {
      const algo = parseAlgo(forceStringNoCtx(type!, null, argCtx('hashFile', 0)));
      const file = realisePath(state, p!, null, 'while realising the context of a path');
      return base16Digest(algo, readFileBytes(file, null));
    },
  });

  r.add({
    name: 'convertHash',
    args: ['args'],
    doc:
      'Return the specified representation of a hash string, based on the attributes presented in *args*:\n\n' +
      '- `hash`: the hash to be converted. It can be in any of the supported formats: base-16, Nix-specific base-32, base-64 (all optionally prefixed with `ALGO:`), or an [SRI hash](https://developer.mozilla.org/en-US/docs/Web/Security/Subresource_Integrity) (`ALGO-BASE64`).\n' +
      '- `hashAlgo` (optional): the algorithm of the hash, one of `"md5"`, `"sha1"`, `"sha256"`, `"sha512"` or `"blake3"` (with the `blake3-hashes` experimental feature). It may be omitted when `hash` names its algorithm (a prefix or an SRI hash); when both are given they must agree.\n' +
      '- `toHashFormat`: the format of the result, one of `"base16"`, `"nix32"` (`"base32"` is a deprecated alias), `"base64"` or `"sri"`.\n\n' +
      'For example,\n\n```nix\nbuiltins.convertHash {\n  hash = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";\n  toHashFormat = "base16";\n}\n```\n\nevaluates to `"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"`, and\n\n' +
      '```nix\nbuiltins.convertHash {\n  hash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";\n  hashAlgo = "sha256";\n  toHashFormat = "nix32";\n}\n```\n\nevaluates to `"0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"`.',
    fn: ([args]) => {
      const a = forceAttrs(args!, null, argCtx('convertHash', 0));
      const hash = forceStringNoCtx(requireAttr(a, 'hash'), null, "while evaluating the attribute 'hash'");
      const algoV = a.get('hashAlgo');
      let algo: HashAlgo | undefined;
      if (algoV !== undefined) {
        const name = forceStringNoCtx(algoV, null, "while evaluating the attribute 'hashAlgo'");
        algo = parseAlgo(name);
      }
      const format = parseFormat(
        state,
        forceStringNoCtx(requireAttr(a, 'toHashFormat'), null, "while evaluating the attribute 'toHashFormat'"),
      );
      try {
        return parseHash(hash, algo).format(format, format === 'sri');
      } catch (e) {
        if (e instanceof BadHashError || e instanceof MissingFeatureError) throw new NixError(e.message);
        throw e;
      }
    },
  });
}

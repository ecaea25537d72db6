// `tsnix hash`: hashes of files and trees, and conversions between hash
// formats.  Two interfaces, as CppNix has two:
//
//   tsnix hash path|file [--type ALGO] [--base16|--base32|--nix32|--base64|--sri] [--mode nar|flat] PATH…
//   tsnix hash convert [--hash-algo ALGO] [--from FORMAT] [--to FORMAT] HASH…
//   tsnix hash to-base16|to-base32|to-nix32|to-base64|to-sri [--type ALGO] HASH…
//       (`nix hash …`: SHA-256 and SRI unless told otherwise)
//
//   tsnix hash [--flat] [--base32] [--base64] [--sri] [--truncate] [--type ALGO] PATH…
//   tsnix hash --to-base16|--to-base32 [--type ALGO] HASH…
//       (`nix-hash`: MD5 in base 16 unless told otherwise; --truncate folds the
//       hash to 160 bits as store paths do)
//
// A tree is hashed as its NAR serialisation (what store paths and `narHash`
// use); `--flat`/`file` hash a regular file's bytes.

import { StoreError } from '../store/compute-store.js';
import { BadHashError, Hash, MissingFeatureError, compressHash, hashFileSync, parseHash, parseHashAlgo, parseHashFormat, type HashAlgo, type HashFormat } from '../store/hash.js';
import { hashPathSync } from '../store/nar.js';
import { isErrnoException, strerror, sysErrorMessage } from '../store/local-store.js';
import { toBytes } from '../../grammar/errors.js';
import { UsageError, needValue, settingsWith, takeFeatureFlags, writeErr, writeOut } from './util.js';

const USAGE = `usage: tsnix hash <subcommand> [options] ARGS…

  path [--mode nar|flat] PATH…   the hash of a tree's NAR (nix hash path)
  file PATH…                     the hash of a file's contents (nix hash file)
  convert [--hash-algo A] [--from F] [--to F] HASH…
                                 a hash in another format (nix hash convert)
  to-base16|to-nix32|to-base32|to-base64|to-sri [--type A] HASH…
                                 the same, the older way
  options of path and file: --type A (md5, sha1, sha256, sha512; default sha256),
    --base16, --nix32 (or --base32), --base64, --sri (the default)

  Without a subcommand, nix-hash's interface:
  [--flat] [--type A] [--base32|--base64|--sri] [--truncate] PATH…   (default md5, base 16)
  --to-base16|--to-base32 [--type A] HASH…
`;

const SUBCOMMANDS = new Set(['path', 'file', 'convert', 'to-base16', 'to-base32', 'to-nix32', 'to-base64', 'to-sri']);

export function hashCommand(argv: string[]): number {
  const args = takeFeatureFlags(argv);
  settingsWith([]);
  const [sub, ...rest] = args;
  if (sub === '--help' || sub === '-h') {
    writeOut(USAGE);
    return 0;
  }
  try {
    if (sub !== undefined && SUBCOMMANDS.has(sub)) {
      if (sub === 'path' || sub === 'file') return hashPaths(rest, sub === 'file' ? 'flat' : 'nar');
      if (sub === 'convert') return convert(rest);
      return toFormat(rest, sub === 'to-base32' ? 'nix32' : (sub.slice(3) as HashFormat));
    }
    return nixHash(args);
  } catch (e) {
    if (e instanceof BadHashError || e instanceof StoreError || e instanceof MissingFeatureError) {
      writeErr(`error: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

/** The hash of one path: its NAR, or (flat) its bytes. */
function hashOne(path: string, algo: HashAlgo, mode: 'nar' | 'flat'): Hash {
  try {
    return mode === 'flat' ? hashFileSync(algo, toBytes(path)) : hashPathSync(toBytes(path), algo).hash;
  } catch (e) {
    if (isErrnoException(e)) {
      // (a missing path is reported as CppNix's lstat reports it; others name the failing call)
      // (and a failed read, a directory given to --flat, as CppNix's readFull does: without the path)
      const msg =
        e.code === 'ENOENT'
          ? sysErrorMessage(e, toBytes(path), 'getting status of')
          : e.syscall === 'read'
            ? `reading from file: ${strerror(e.code)}`
            : sysErrorMessage(e, toBytes(path));
      throw new StoreError(msg);
    }
    throw e;
  }
}

function algoFlag(args: string[], i: number, flag: string): HashAlgo {
  return parseHashAlgo(needValue(args, i, flag));
}

/** `nix hash path` / `nix hash file`. */
function hashPaths(args: string[], mode: 'nar' | 'flat'): number {
  let algo: HashAlgo = 'sha256';
  let format: HashFormat = 'sri';
  const paths: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--type' || a === '--algo') algo = algoFlag(args, i++, a);
    else if (a === '--mode' && mode === 'nar') {
      const m = needValue(args, i++, a);
      if (m !== 'nar' && m !== 'flat') throw new UsageError(`unknown file ingestion method '${m}' (tsnix knows nar and flat)`);
      mode = m;
    } else if (a === '--base16' || a === '--base64' || a === '--sri' || a === '--nix32') format = a.slice(2) as HashFormat;
    else if (a === '--base32') format = 'nix32';
    else if (a.startsWith('-') && a !== '-') throw new UsageError(`unrecognised flag '${a}'`);
    else paths.push(a);
  }
  for (const p of paths) writeOut(hashOne(p, algo, mode).format(format) + '\n');
  return 0;
}

/** `nix hash convert`. */
function convert(args: string[]): number {
  let algo: HashAlgo | undefined;
  let from: HashFormat | undefined;
  let to: HashFormat = 'sri';
  const hashes: string[] = [];
  const format = (args: string[], i: number, flag: string): HashFormat => {
    const v = needValue(args, i, flag);
    const f = parseHashFormat(v);
    if (f === undefined) throw new UsageError(`hash format '${v}' is not supported (base16, nix32, base32, base64, sri)`);
    return f;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--hash-algo' || a === '--algo' || a === '--type') algo = algoFlag(args, i++, a);
    else if (a === '--from') from = format(args, i++, a);
    else if (a === '--to') to = format(args, i++, a);
    else if (a.startsWith('-') && a !== '-') throw new UsageError(`unrecognised flag '${a}'`);
    else hashes.push(a);
  }
  for (const s of hashes) {
    const h = parseHash(s, algo);
    if (from !== undefined && formatOf(s, h) !== from) {
      throw new BadHashError(`input hash '${s}' does not have the expected format '--from ${from}'`);
    }
    writeOut(h.format(to) + '\n');
  }
  return 0;
}

/** The format a hash was written in (known once it parsed as `h`). */
function formatOf(s: string, h: Hash): HashFormat {
  const body = s.slice(Math.max(s.indexOf(':'), s.indexOf('-')) + 1);
  if (!s.includes(':') && s.includes('-')) return 'sri';
  if (body.length === h.bytes.length * 2) return 'base16';
  if (body === h.toNix32()) return 'nix32';
  return 'base64';
}

/** `nix hash to-base16` and friends. */
function toFormat(args: string[], to: HashFormat): number {
  let algo: HashAlgo | undefined;
  const hashes: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--type' || a === '--algo') algo = algoFlag(args, i++, a);
    else if (a.startsWith('-') && a !== '-') throw new UsageError(`unrecognised flag '${a}'`);
    else hashes.push(a);
  }
  for (const s of hashes) writeOut(parseHash(s, algo).format(to) + '\n');
  return 0;
}

/** `nix-hash`. */
function nixHash(args: string[]): number {
  let algo: HashAlgo = 'md5';
  let flat = false;
  let truncate = false;
  let format: HashFormat = 'base16';
  let convertTo: HashFormat | null = null;
  const operands: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--type') algo = algoFlag(args, i++, a);
    else if (a === '--flat') flat = true;
    else if (a === '--truncate') truncate = true;
    else if (a === '--base16') format = 'base16';
    else if (a === '--base32') format = 'nix32';
    else if (a === '--base64') format = 'base64';
    else if (a === '--sri') format = 'sri';
    else if (a === '--to-base16') convertTo = 'base16';
    else if (a === '--to-base32') convertTo = 'nix32';
    else if (a === '--to-base64') convertTo = 'base64';
    else if (a === '--to-sri') convertTo = 'sri';
    else if (a.startsWith('-') && a !== '-') throw new UsageError(`unrecognised flag '${a}'`);
    else operands.push(a);
  }
  if (convertTo !== null) {
    for (const s of operands) writeOut(parseHash(s, algo).format(convertTo) + '\n');
    return 0;
  }
  for (const p of operands) {
    const h = hashOne(p, algo, flat ? 'flat' : 'nar');
    // (--truncate: folded to 20 bytes, as store paths fold theirs, and printed as such)
    if (truncate && h.bytes.length > 20) {
      const folded = compressHash(h.bytes, 20);
      const body = format === 'nix32' ? new Hash('sha1', folded).toNix32() : format === 'base16' ? folded.toString('hex') : folded.toString('base64');
      writeOut((format === 'sri' ? `${h.algo}-${body}` : body) + '\n');
      continue;
    }
    writeOut(h.format(format) + '\n');
  }
  return 0;
}

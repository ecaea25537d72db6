// Moving paths between stores, and signatures, from the command line:
//
//   tsnix store export PATH… > FILE               (nix-store --export)
//   tsnix store import < FILE                     (nix-store --import)
//   tsnix store generate-binary-cache-key NAME SECRET PUBLIC
//   tsnix store sign --key-file FILE PATH…        (nix store sign)
//   tsnix store verify-sigs [--sigs-needed N] [--trusted-public-keys KEYS] PATH…   (nix store verify)
//   tsnix store path-info [--json] [-r] [-s] [-S] [--sigs] PATH…   (nix path-info)
//   tsnix copy --to file://DIR[?compression=none|xz][&secret-key=FILE] PATH…
//   tsnix copy --from file://DIR [--no-check-sigs] PATH…           (nix copy)
//
// The work is done by src/store/export.ts, signing.ts and binary-cache.ts.

import { writeFileSync } from 'node:fs';
import { loadSettings } from '../eval/settings.js';
import { copyFromCache, copyToCache, FileBinaryCache, parseCacheUrl, readSecretKeyFile } from '../store/binary-cache.js';
import { exportPaths, importPaths } from '../store/export.js';
import { hashPathSync } from '../store/nar.js';
import { LocalStore, storeErrorMessage, type ValidPathInfo } from '../store/local-store.js';
import {
  countValidSignatures,
  formatPublicKey,
  formatSecretKey,
  generateKeyPair,
  parsePublicKeys,
  signPath,
  type PublicKeys,
} from '../store/signing.js';
import { makeContentAddressedPath, parseContentAddress } from '../store/content-address.js';
import { toBytes } from '../../grammar/errors.js';
import { toFsPath } from '../store/fs-path.js';
import { compareBytes } from '../store/store-path.js';
import { UsageError, needValue, writeAll, writeErr, writeOut } from './util.js';

/** Command-line text as a byte string. */
const bytes = toBytes;

const log = (l: string): void => writeErr(l + '\n');

/** Trusted public keys: the trusted-public-keys setting (config file, NIX_CONFIG, --option), plus flags. */
function trustedKeys(options: [string, string][]): PublicKeys {
  const { settings, error } = loadSettings();
  if (error) throw new UsageError(error);
  for (const [k, v] of options) {
    const err = settings.set(k, v, 'command line');
    if (err) throw new UsageError(err);
  }
  return parsePublicKeys(settings.list('trusted-public-keys'));
}

// ---------------------------------------------------------------------------
// export / import

export function exportCommand(store: LocalStore, args: string[]): number {
  const paths: string[] = [];
  for (const a of args) {
    if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown flag '${a}'`);
    paths.push(store.followLinksToStorePath(bytes(a)));
  }
  exportPaths(store, paths, (chunk) => writeAll(1, chunk));
  return 0;
}

export async function importCommand(store: LocalStore, args: string[]): Promise<number> {
  for (const a of args) {
    if (a.startsWith('-')) throw new UsageError(`unknown flag '${a}'`);
    throw new UsageError('no arguments expected');
  }
  const paths = await importPaths(store, process.stdin);
  writeOut(paths.map((p) => p + '\n').join(''));
  return 0;
}

// ---------------------------------------------------------------------------
// Keys and signatures

export function generateBinaryCacheKey(args: string[]): number {
  for (const a of args) if (a.startsWith('-')) throw new UsageError(`unknown flag '${a}'`);
  if (args.length !== 3) throw new UsageError('three arguments expected');
  const [name, secretFile, publicFile] = args as [string, string, string];
  const pair = generateKeyPair(bytes(name));
  writeFileSync(toFsPath(bytes(secretFile)), Buffer.from(formatSecretKey(pair.secret), 'latin1'), { mode: 0o600 });
  writeFileSync(toFsPath(bytes(publicFile)), Buffer.from(formatPublicKey(pair.public), 'latin1'));
  return 0;
}

export function signCommand(store: LocalStore, args: string[]): number {
  let keyFile: string | undefined;
  let recursive = false;
  const operands: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--key-file' || a === '-k') keyFile = needValue(args, i++, a);
    else if (a === '--recursive' || a === '-r') recursive = true;
    else if (a.startsWith('-')) throw new UsageError(`unknown flag '${a}'`);
    else operands.push(a);
  }
  if (keyFile === undefined) throw new UsageError("a secret key file is required ('--key-file FILE')");
  const key = readSecretKeyFile(bytes(keyFile));
  let paths = operands.map((a) => store.followLinksToStorePath(bytes(a)));
  paths = recursive ? store.queryRequisites(paths) : paths;
  let added = 0;
  for (const p of paths) {
    const info = store.pathInfo(p);
    added += store.addSignatures(p, [signPath(info, key)]);
  }
  writeErr(`added ${added} signatures\n`);
  return 0;
}

function isContentAddressed(store: LocalStore, info: ValidPathInfo): boolean {
  if (info.ca === undefined) return false;
  try {
    const refs = info.references.filter((r) => r !== info.path);
    const name = info.path.slice(store.storeDir.length + 34);
    return (
      makeContentAddressedPath(name, parseContentAddress(info.ca), refs, store.storeDir, refs.length !== info.references.length) ===
      info.path
    );
  } catch {
    return false;
  }
}

/**
 * `nix store verify PATH…`: each path's contents against its NAR hash
 * (unless --no-contents) and its trust (unless --no-trust): a path is
 * trusted if it was built here (with --sigs-needed 0), is content-addressed,
 * or has at least N valid signatures by trusted keys. Exit status: 1 if a
 * path was modified, 2 if one is untrusted, 4 if one could not be checked
 * (or-ed together).
 */
export function verifySigsCommand(store: LocalStore, args: string[]): number {
  let sigsNeeded = 0;
  let noContents = false;
  let noTrust = false;
  let recursive = false;
  const options: [string, string][] = [];
  const operands: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--sigs-needed' || a === '-n') {
      const v = needValue(args, i++, a);
      if (!/^[0-9]+$/.test(v)) throw new UsageError(`flag '${a}' requires an integer argument, got '${v}'`);
      sigsNeeded = Number(v);
    } else if (a === '--trusted-public-keys') options.push(['trusted-public-keys', needValue(args, i++, a)]);
    else if (a === '--option') {
      const name = needValue(args, i++, a);
      options.push([name, needValue(args, i++, a)]);
    } else if (a === '--no-contents') noContents = true;
    else if (a === '--no-trust') noTrust = true;
    else if (a === '--recursive' || a === '-r') recursive = true;
    else if (a.startsWith('-')) throw new UsageError(`unknown flag '${a}'`);
    else operands.push(a);
  }
  const keys = trustedKeys(options);
  let paths = operands.map((a) => store.followLinksToStorePath(bytes(a)));
  paths = recursive ? store.queryRequisites(paths) : [...new Set(paths)].sort(compareBytes);
  let corrupted = 0;
  let untrusted = 0;
  let failed = 0;
  for (const p of paths) {
    log(`checking '${p}'...`);
    try {
      const info = store.pathInfo(p);
      if (!noContents) {
        const got = hashPathSync(toFsPath(store.toPhysical(p)), info.narHash.algo).hash;
        if (!got.equals(info.narHash)) {
          corrupted++;
          log(`path '${p}' was modified! expected hash '${info.narHash.toString()}', got '${got.toString()}'`);
        }
      }
      if (!noTrust) {
        let good = info.ultimate && sigsNeeded === 0;
        if (!good) {
          const valid = isContentAddressed(store, info) ? Infinity : countValidSignatures(info, info.sigs, keys);
          good = valid >= Math.max(1, sigsNeeded);
        }
        if (!good) {
          untrusted++;
          log(`path '${p}' is untrusted`);
        }
      }
    } catch (e) {
      failed++;
      log(`error: ${storeErrorMessage(e)}`);
    }
  }
  return (corrupted ? 1 : 0) | (untrusted ? 2 : 0) | (failed ? 4 : 0);
}

// ---------------------------------------------------------------------------
// path-info

export function pathInfoCommand(store: LocalStore, args: string[]): number {
  let json = false;
  let recursive = false;
  let showSize = false;
  let showClosureSize = false;
  let showSigs = false;
  const operands: string[] = [];
  for (const a of args) {
    if (a === '--json') json = true;
    else if (a === '--recursive' || a === '-r') recursive = true;
    else if (a === '--size' || a === '-s') showSize = true;
    else if (a === '--closure-size' || a === '-S') showClosureSize = true;
    else if (a === '--sigs') showSigs = true;
    else if (/^-[rsS]+$/.test(a)) {
      for (const c of a.slice(1)) {
        if (c === 'r') recursive = true;
        else if (c === 's') showSize = true;
        else showClosureSize = true;
      }
    } else if (a.startsWith('-')) throw new UsageError(`unknown flag '${a}'`);
    else operands.push(a);
  }
  const given = operands.map((a) => store.followLinksToStorePath(bytes(a)));
  for (const p of given) store.pathInfo(p); // every path must be valid
  const paths = recursive ? store.queryRequisites(given) : given;
  const closureSize = (p: string): number => {
    let n = 0;
    for (const q of store.computeClosure([p])) n += store.pathInfo(q).narSize;
    return n;
  };
  if (json) {
    const out = [...new Set(paths)].sort(compareBytes).map((p) => {
      const info = store.pathInfo(p);
      const o: Record<string, unknown> = {
        path: p,
        narHash: info.narHash.toSRI(),
        narSize: info.narSize,
        references: info.references,
      };
      if (info.ca !== undefined) o.ca = info.ca;
      if (showClosureSize) o.closureSize = closureSize(p);
      if (info.deriver !== undefined) o.deriver = info.deriver;
      if (info.registrationTime) o.registrationTime = info.registrationTime;
      if (info.ultimate) o.ultimate = true;
      if (info.sigs.length) o.signatures = info.sigs;
      return o;
    });
    writeOut(JSON.stringify(out));
    return 0;
  }
  const width = Math.max(0, ...paths.map((p) => p.length));
  let text = '';
  for (const p of paths) {
    const info = store.pathInfo(p);
    text += p;
    if (showSize || showClosureSize || showSigs) text += ' '.repeat(width - p.length);
    if (showSize) text += '\t' + String(info.narSize).padStart(11);
    if (showClosureSize) text += '\t' + String(closureSize(p)).padStart(11);
    if (showSigs) {
      const ss: string[] = [];
      if (info.ultimate) ss.push('ultimate');
      if (info.ca !== undefined) ss.push(`ca:${info.ca}`);
      ss.push(...info.sigs);
      text += '\t' + ss.join(' ');
    }
    text += '\n';
  }
  writeOut(text);
  return 0;
}

// ---------------------------------------------------------------------------
// tsnix copy

const COPY_USAGE = `usage: tsnix copy (--to URL | --from URL) [--no-check-sigs] PATH…

Copy the closure of store paths to or from a binary cache in a folder:
  --to 'file://DIR[?compression=none|xz][&secret-key=FILE]'
                       write the paths (and their references) to the cache,
                       signed with the secret key if one is given
  --from 'file://DIR'  add the paths (and their references) from the cache to the
                       local store, checking each NAR against its hash and, when
                       trusted-public-keys is set, its signatures
  --no-check-sigs      accept unsigned paths
  --trusted-public-keys KEYS, --option NAME VALUE
`;

export async function copyCommand(args: string[]): Promise<number> {
  let to: string | undefined;
  let from: string | undefined;
  let checkSigs = true;
  const options: [string, string][] = [];
  const operands: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--help' || a === '-h') {
      process.stdout.write(COPY_USAGE);
      return 0;
    }
    if (a === '--to') to = needValue(args, i++, a);
    else if (a === '--from') from = needValue(args, i++, a);
    else if (a === '--no-check-sigs') checkSigs = false;
    else if (a === '--trusted-public-keys') options.push(['trusted-public-keys', needValue(args, i++, a)]);
    else if (a === '--option') {
      const name = needValue(args, i++, a);
      options.push([name, needValue(args, i++, a)]);
    } else if (a.startsWith('-')) throw new UsageError(`unknown flag '${a}'`);
    else operands.push(a);
  }
  if ((to === undefined) === (from === undefined)) throw new UsageError("exactly one of '--to' and '--from' is required");
  let store: LocalStore | undefined;
  try {
    store = LocalStore.open();
    const url = parseCacheUrl(bytes((to ?? from) as string));
    for (const k of url.unknown) writeErr(`warning: unknown store parameter '${k}' (ignored)\n`);
    const cache = new FileBinaryCache(url, store.storeDir);
    const s = store;
    if (to !== undefined) {
      copyToCache(s, cache, operands.map((a) => s.followLinksToStorePath(bytes(a))), { log });
    } else {
      const keys = trustedKeys(options);
      copyFromCache(s, cache, operands.map((a) => s.followLinksToStorePath(bytes(a))), { log, publicKeys: keys, checkSigs });
    }
    store.close();
    store = undefined;
    return 0;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    try {
      store?.close();
    } catch {
      // the first error is the one to report
    }
    writeErr(`error: ${storeErrorMessage(e)}\n`);
    return 1;
  }
}

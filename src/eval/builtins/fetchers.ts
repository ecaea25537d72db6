// Fetchers that need no network: fetchGit and fetchTree for local inputs
// (`path`, `file` and `tarball` from file:// URLs, `git` repositories on this
// machine) and fetchClosure from a file:// binary cache.
//
// Fetched trees are prepared in a temporary folder (a clean checkout of a
// commit with `git archive`, an unpacked tarball) and added to the store as a
// `source` path.  A read-only store (ComputeStore/RecordingStore: --eval, the
// REPL) only computes the path; the temporary folder then stays until the
// process exits, so that the REPL can still write the path at `:b`.
//
// Not here, on purpose: fetchMercurial (needs `hg`, and CppNix is dropping
// it), getFlake (needs the whole flake machinery: lock files, registries) and
// network fetches (github:, https:// …): tsnix has no downloader, so they fail
// with a clear error.

import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Pos } from '../../../grammar/ast.js';
import { fromBytes, toBytes } from '../../../grammar/errors.js';
import { FileBinaryCache, parseCacheUrl, type NarInfo } from '../../store/binary-cache.js';
import { makeContentAddressedPath, parseContentAddress } from '../../store/content-address.js';
import { toFsPath } from '../../store/fs-path.js';
import { BadHashError, MissingFeatureError, parseHash, type Hash } from '../../store/hash.js';
import { countValidSignatures, parsePublicKeys } from '../../store/signing.js';
import { checkStorePathName, isStorePath } from '../../store/store-path.js';
import { NixError } from '../errors.js';
import { coerceToString, forceAttrs, forceBool, forceStringNoCtx } from '../ops.js';
import type { EvalState } from '../state.js';
import { Attrs, NixPath, NixStr, force, typeName, type Value } from '../value.js';
import { inputFromAttrs, inputToURL, urlToString, type InputAttr, type InputAttrs } from './flakes.js';
import { lstatOrNull } from './paths.js';
import type { Registry } from './registry.js';

// ---------------------------------------------------------------- helpers

/** Runs `f`, turning store and system errors into Nix errors at `pos`. */
function nixCall<T>(pos: Pos | null, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof NixError) throw e;
    if (!(e instanceof Error) || e instanceof TypeError || e instanceof RangeError || e instanceof ReferenceError) throw e;
    const sys = typeof (e as NodeJS.ErrnoException).code === 'string';
    throw new NixError(sys ? toBytes(e.message) : e.message, pos);
  }
}

/**
 * Whether the store only records what it adds, to write it later (the REPL's
 * RecordingStore): fetched trees must then stay on disk until it does.
 */
function keepsSources(state: EvalState): boolean {
  return !state.store.writable && typeof (state.store as { recordedPath?: unknown }).recordedPath === 'function';
}

/** This process's folder of kept trees (removed at exit, or by the next process if this one was killed). */
let keptDir: string | null = null;

function keptParent(): string {
  if (keptDir !== null) return keptDir;
  const tmp = os.tmpdir();
  // folders of processes that are gone
  for (const e of fs.readdirSync(tmp)) {
    const m = /^tsnix-fetched-(\d+)-/.exec(e);
    if (!m) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') fs.rmSync(path.join(tmp, e), { recursive: true, force: true });
    }
  }
  const dir = fs.mkdtempSync(path.join(tmp, `tsnix-fetched-${process.pid}-`));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return (keptDir = dir);
}

/** A temporary folder for a fetched tree. */
function makeTemp(state: EvalState, prefix: string): string {
  return fs.mkdtempSync(path.join(keepsSources(state) ? keptParent() : os.tmpdir(), `tsnix-${prefix}-`));
}

/** Removes `tmp` unless the store still needs it (see keepsSources). */
function releaseTemp(state: EvalState, tmp: string): void {
  if (!keepsSources(state)) fs.rmSync(tmp, { recursive: true, force: true });
}

/** The newest mtime in a tree (as CppNix's dumpPathAndGetMtime). */
function newestMtime(p: string, filter?: (p: string, st: fs.Stats) => boolean): number {
  const st = fs.lstatSync(toFsPath(p));
  let t = Math.floor(st.mtimeMs / 1000);
  if (st.isDirectory()) {
    for (const e of fs.readdirSync(toFsPath(p), { encoding: 'buffer' })) {
      const c = `${p}/${e.toString('latin1')}`;
      if (filter && !filter(c, fs.lstatSync(Buffer.from(c, 'latin1')))) continue;
      t = Math.max(t, newestMtime(c, filter));
    }
  }
  return t;
}

/** `%Y%m%d%H%M%S` in UTC. */
function formatDate(t: number): string {
  return new Date(t * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

const NETWORK_HINT = 'tsnix has no network access: only local inputs (paths, file:// URLs, local Git repositories) can be fetched';

/** The local path of a `file://` URL or an absolute path; other URLs are network fetches. */
function localPath(url: string, what: string): string {
  if (url.startsWith('/')) return url;
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):(.*)$/s.exec(url);
  if (m && m[1] === 'file') {
    let p = m[2]!;
    if (p.startsWith('//')) {
      const slash = p.indexOf('/', 2);
      const host = slash < 0 ? p.slice(2) : p.slice(2, slash);
      if (host !== '' && host !== 'localhost') throw new NixError(`cannot fetch ${what} '${url}': file URLs with a host name are not supported`);
      p = slash < 0 ? '/' : p.slice(slash);
    }
    const q = p.search(/[?#]/);
    if (q >= 0) p = p.slice(0, q);
    p = p.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    if (!p.startsWith('/')) throw new NixError(`${what} '${url}' must use an absolute path. The 'file' scheme does not support relative paths.`);
    return p;
  }
  throw new NixError(`cannot fetch ${what} '${url}': ${NETWORK_HINT}`);
}

// ---------------------------------------------------------------- git

interface GitResult {
  ok: boolean;
  out: string;
  err: string;
  status: number | null;
}

function git(args: string[], cwd?: string): GitResult {
  let r: SpawnSyncReturns<Buffer>;
  try {
    r = spawnSync('git', args, {
      cwd: cwd === undefined ? undefined : fromBytes(cwd),
      maxBuffer: 1 << 30,
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1', LC_ALL: 'C' },
    });
  } catch (e) {
    throw new NixError(`cannot run 'git': ${toBytes((e as Error).message)}`);
  }
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new NixError(`cannot run 'git': the program 'git' is not installed (it is needed to fetch Git repositories)`);
    throw new NixError(`cannot run 'git': ${toBytes(r.error.message)}`);
  }
  return { ok: r.status === 0, out: r.stdout.toString('latin1'), err: r.stderr.toString('latin1'), status: r.status };
}

function gitOrThrow(args: string[], cwd?: string): string {
  const r = git(args, cwd);
  if (!r.ok) {
    const why = r.err.trim();
    throw new NixError(`program 'git' failed with exit code ${r.status}${why ? `:\n${why}` : ''}`);
  }
  return r.out;
}

const SHA1_RE = /^[0-9a-f]{40}$/;

function checkRev(rev: string): string {
  if (/^[0-9a-fA-F]{40}$/.test(rev)) return rev.toLowerCase();
  if (rev.length !== 40) throw new NixError(`hash '${rev}' has wrong length for hash type 'sha1'`);
  throw new NixError(`invalid base-16 hash '${rev}'`);
}

interface Fetched {
  /** Store path of the tree. */
  path: string;
  narHash: Hash;
  /** Input attributes found by fetching (rev, revCount, lastModified, dirtyRev, …). */
  info: InputAttrs;
}

/** Fetches a local Git repository (CppNix's GitInputScheme, minus the network). */
function fetchGitInput(state: EvalState, input: InputAttrs, pos: Pos | null, name: string): Fetched {
  const url = input.get('url') as string;
  const repo = localPath(url, 'Git repository').replace(/(.)\/+$/, '$1');
  const bool = (k: string): boolean => input.get(k) === true;
  const submodules = bool('submodules');
  const st = lstatOrNull(repo);
  const probe = st ? git(['-C', fromBytes(repo), 'rev-parse', '--is-bare-repository']) : null;
  if (!probe || !probe.ok) {
    throw new NixError(`opening Git repository '${repo}': could not find repository at '${repo}'`);
  }
  const bare = probe.out.trim() === 'true';
  const G = (args: string[]): GitResult => git(['-C', fromBytes(repo), ...args]);
  const info: InputAttrs = new Map();
  const headRev = (): string | undefined => {
    const r = G(['rev-parse', '--verify', '-q', 'HEAD^{commit}']);
    return r.ok ? r.out.trim() : undefined;
  };
  const commitTime = (rev: string): bigint => BigInt(gitOrThrow(['-C', fromBytes(repo), 'log', '-1', '--format=%ct', rev]).trim());
  const revCount = (rev: string): bigint => BigInt(gitOrThrow(['-C', fromBytes(repo), 'rev-list', '--count', rev]).trim());

  let rev = typeof input.get('rev') === 'string' ? checkRev(input.get('rev') as string) : undefined;
  const ref = typeof input.get('ref') === 'string' ? (input.get('ref') as string) : undefined;

  if (rev === undefined && ref === undefined && !bare) {
    const head = headRev();
    const dirty = head === undefined || !G(['diff', '--quiet', 'HEAD', '--']).ok;
    if (dirty) {
      // The working tree's tracked files, as they are on disk.
      state.warn(`Git tree '${repo}' is dirty`);
      const lsArgs = ['ls-files', '-z', ...(submodules ? ['--recurse-submodules'] : [])];
      const files = new Set(
        gitOrThrow(['-C', fromBytes(repo), ...lsArgs])
          .split('\0')
          .filter((f) => f !== ''),
      );
      const dirs = new Set<string>();
      for (const f of files) for (let i = f.indexOf('/'); i >= 0; i = f.indexOf('/', i + 1)) dirs.add(f.slice(0, i));
      const rel = (p: string): string => p.slice(repo.length + 1);
      const keep = (p: string, isDir: boolean): boolean => (isDir ? dirs.has(rel(p)) : files.has(rel(p)));
      const res = nixCall(pos, () =>
        state.store.addPath(repo, { name, method: 'recursive', filter: (p, t) => keep(p, t === 'directory') }),
      );
      if (head !== undefined) {
        info.set('dirtyRev', `${head}-dirty`);
        info.set('dirtyShortRev', `${head.slice(0, 7)}-dirty`);
      }
      info.set('lastModified', head === undefined ? 0n : commitTime(head));
      return { path: res.path, narHash: res.narHash, info };
    }
    rev = head;
  }

  // The ref the commit must be on (CppNix fetches only that ref unless allRefs).
  let fetchRef: string;
  if (ref !== undefined) fetchRef = ref.startsWith('refs/') || ref === 'HEAD' ? ref : `refs/heads/${ref}`;
  else fetchRef = 'HEAD';
  const refName = (): string => {
    if (ref !== undefined) return ref;
    const r = G(['symbolic-ref', '--short', '-q', 'HEAD']);
    return r.ok ? r.out.trim() : 'HEAD';
  };
  const refRev = G(['rev-parse', '--verify', '-q', `${fetchRef}^{commit}`]);
  if (rev === undefined) {
    if (!refRev.ok) throw new NixError(`cannot find Git reference '${ref ?? 'HEAD'}' in repository '${repo}'`);
    rev = refRev.out.trim();
  } else {
    const exists = G(['cat-file', '-e', `${rev}^{commit}`]).ok;
    const onRef = exists && (bool('allRefs') || (refRev.ok && G(['merge-base', '--is-ancestor', rev, refRev.out.trim()]).ok));
    if (!onRef) {
      throw new NixError(
        `Cannot find Git revision '${rev}' in ref '${refName()}' of repository '${repo}'! Please make sure that the rev exists on the ref you've specified or add allRefs = true; to fetchGit.`,
      );
    }
  }
  if (!SHA1_RE.test(rev)) throw new NixError(`Git revision '${rev}' of '${repo}' is not a SHA-1 commit hash`);

  const tmp = makeTemp(state, 'git');
  try {
    const tree = `${toBytes(tmp)}/source`;
    fs.mkdirSync(Buffer.from(tree, 'latin1'));
    checkoutCommit(repo, rev, tree, submodules);
    const res = nixCall(pos, () => state.store.addPath(tree, { name, method: 'recursive' }));
    info.set('rev', rev);
    if (!bool('shallow')) info.set('revCount', revCount(rev));
    info.set('lastModified', commitTime(rev));
    releaseTemp(state, tmp);
    return { path: res.path, narHash: res.narHash, info };
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Writes the files of commit `rev` of `repo` into `dest` (`git archive`), with submodules if asked. */
function checkoutCommit(repo: string, rev: string, dest: string, submodules: boolean): void {
  const tar = `${dest}.tar`;
  gitOrThrow(['-C', fromBytes(repo), 'archive', '--format=tar', `--output=${fromBytes(tar)}`, rev]);
  untar(tar, dest);
  fs.rmSync(Buffer.from(tar, 'latin1'));
  if (!submodules) return;
  // Gitlinks (mode 160000): the commit of a submodule, taken from its checkout or .git/modules.
  const entries = gitOrThrow(['-C', fromBytes(repo), 'ls-tree', '-r', '-z', rev]).split('\0');
  for (const e of entries) {
    const m = /^160000 commit ([0-9a-f]{40})\t(.*)$/s.exec(e);
    if (!m) continue;
    const [, subRev, subPath] = m as unknown as [string, string, string];
    const candidates = [`${repo}/${subPath}`, `${repo}/.git/modules/${subPath}`, `${repo}/modules/${subPath}`];
    const subRepo = candidates.find((c) => lstatOrNull(c) && git(['-C', fromBytes(c), 'cat-file', '-e', `${subRev}^{commit}`]).ok);
    if (subRepo === undefined) {
      throw new NixError(`cannot find commit '${subRev}' of submodule '${subPath}' of '${repo}' (tsnix only fetches submodules that are checked out locally)`);
    }
    const subDest = `${dest}/${subPath}`;
    fs.rmSync(Buffer.from(subDest, 'latin1'), { recursive: true, force: true });
    fs.mkdirSync(Buffer.from(subDest, 'latin1'), { recursive: true });
    checkoutCommit(subRepo, subRev, subDest, true);
  }
}

// ---------------------------------------------------------------- tarballs

function untar(file: string, dest: string): void {
  const r = spawnSync('tar', ['-xf', fromBytes(file), '-C', fromBytes(dest), '--no-same-owner', '--delay-directory-restore'], {
    maxBuffer: 1 << 26,
  });
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : r.stderr.toString('utf8').trim();
    throw new NixError(`failed to unpack '${file}': ${toBytes(why)}`);
  }
}

/** The newest mtime of the archive's entries (`tar -tv --full-time`), 0 if none. */
function archiveMtime(file: string): number {
  const r = spawnSync('tar', ['-tvf', fromBytes(file), '--full-time'], { env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' }, maxBuffer: 1 << 30 });
  if (r.error || r.status !== 0) return 0;
  let t = 0;
  for (const line of r.stdout.toString('latin1').split('\n')) {
    const m = /^\S+\s+\S+\s+\S+\s+(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d)(?::(\d\d))?/.exec(line);
    if (!m) continue;
    const [y, mo, d, h, mi, s] = m.slice(1).map((x) => Number(x ?? 0));
    t = Math.max(t, Date.UTC(y!, mo! - 1, d!, h!, mi!, s!) / 1000);
  }
  return t;
}

function fetchTarballInput(state: EvalState, input: InputAttrs, pos: Pos | null, name: string): Fetched {
  const url = input.get('url') as string;
  const file = localPath(url, 'tarball');
  const st = lstatOrNull(file);
  if (!st) throw new NixError(`unable to download '${url}': file '${file}' does not exist`);
  const tmp = makeTemp(state, 'unpack');
  try {
    const out = `${toBytes(tmp)}/unpacked`;
    fs.mkdirSync(Buffer.from(out, 'latin1'));
    untar(file, out);
    // A single top-level directory is the tree itself.
    const ents = fs.readdirSync(Buffer.from(out, 'latin1'), { encoding: 'buffer' });
    let root = out;
    if (ents.length === 1) {
      const only = `${out}/${ents[0]!.toString('latin1')}`;
      if (fs.lstatSync(Buffer.from(only, 'latin1')).isDirectory()) root = only;
    }
    const res = nixCall(pos, () => state.store.addPath(root, { name, method: 'recursive' }));
    const info: InputAttrs = new Map();
    const mtime = archiveMtime(file);
    if (mtime > 0 && !input.has('lastModified')) info.set('lastModified', BigInt(mtime));
    releaseTemp(state, tmp);
    return { path: res.path, narHash: res.narHash, info };
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

// ---------------------------------------------------------------- fetchTree

/** Fetches a (checked) input; `shown` is its URL form for messages. */
function fetchInput(state: EvalState, input: InputAttrs, shown: string, pos: Pos | null, fetcher: 'fetchTree' | 'fetchGit'): Fetched {
  const type = input.get('type') as string;
  const name = typeof input.get('name') === 'string' ? (input.get('name') as string) : 'source';
  nixCall(pos, () => checkStorePathName(name));
  if (state.settings.bool('pure-eval') && !isLocked(input)) {
    throw new NixError(`in pure evaluation mode, '${fetcher}' will not fetch unlocked input '${shown}'`, pos);
  }
  let res: Fetched;
  switch (type) {
    case 'git':
      res = fetchGitInput(state, input, pos, name);
      break;
    case 'tarball':
      res = fetchTarballInput(state, input, pos, name);
      break;
    case 'file': {
      const url = input.get('url') as string;
      const file = localPath(url, 'file');
      if (!lstatOrNull(file)) throw new NixError(`unable to download '${url}': file '${file}' does not exist`);
      const r = nixCall(pos, () => state.store.addPath(file, { name, method: 'recursive' }));
      res = { path: r.path, narHash: r.narHash, info: new Map() };
      break;
    }
    case 'path': {
      const p = input.get('path') as string;
      if (!p.startsWith('/')) throw new NixError(`path '${p}' is not an absolute path`);
      if (!lstatOrNull(p)) throw new NixError(`path '${p}' does not exist`);
      const r = nixCall(pos, () => state.store.addPath(p, { name, method: 'recursive' }));
      const info: InputAttrs = new Map();
      if (!input.has('lastModified')) info.set('lastModified', BigInt(newestMtime(p)));
      res = { path: r.path, narHash: r.narHash, info };
      break;
    }
    case 'github':
    case 'gitlab':
    case 'sourcehut':
    case 'indirect':
      throw new NixError(`cannot fetch input '${shown}': ${NETWORK_HINT}`);
    default:
      throw new NixError(`fetching inputs of type '${type}' is not implemented in tsnix`);
  }
  const want = input.get('narHash');
  if (typeof want === 'string') {
    let expected: Hash;
    try {
      expected = parseHash(want);
    } catch (e) {
      if (e instanceof BadHashError) throw new NixError(e.message);
      throw e;
    }
    if (!expected.equals(res.narHash)) {
      throw new NixError(
        `NAR hash mismatch in input '${shown}', expected '${expected.format('sri', true)}' but got '${res.narHash.format('sri', true)}'`,
      );
    }
  }
  return res;
}

function isLocked(input: InputAttrs): boolean {
  if (input.get('type') === 'git') return typeof input.get('rev') === 'string';
  return typeof input.get('narHash') === 'string';
}

/** The value of a fetched tree (CppNix's emitTreeAttrs). */
function treeAttrs(input: InputAttrs, res: Fetched, emptyRevFallback: boolean): Attrs {
  const all = new Map(input);
  for (const [k, v] of res.info) all.set(k, v);
  const m = new Map<string, Value>();
  m.set('outPath', new NixStr(res.path, new Set([res.path])));
  m.set('narHash', res.narHash.format('sri', true));
  if (all.get('type') === 'git') m.set('submodules', all.get('submodules') === true);
  const rev = all.get('rev');
  const dirty = all.has('dirtyRev');
  if (typeof rev === 'string' && !dirty) {
    m.set('rev', rev);
    m.set('shortRev', rev.slice(0, 7));
  } else if (emptyRevFallback) {
    m.set('rev', '0'.repeat(40));
    m.set('shortRev', '0'.repeat(7));
  }
  const revCount = all.get('revCount');
  if (typeof revCount === 'bigint' && !dirty) m.set('revCount', Number(revCount));
  else if (emptyRevFallback) m.set('revCount', 0);
  const dirtyRev = all.get('dirtyRev');
  if (typeof dirtyRev === 'string') {
    m.set('dirtyRev', dirtyRev);
    m.set('dirtyShortRev', all.get('dirtyShortRev') as string);
  }
  const lm = all.get('lastModified');
  if (typeof lm === 'bigint') {
    m.set('lastModified', Number(lm));
    m.set('lastModifiedDate', formatDate(Number(lm)));
  }
  return new Attrs(m);
}

/** Per-evaluation cache: the same input is fetched once. */
const fetchCache = new WeakMap<EvalState, Map<string, Attrs>>();

function cached(state: EvalState, key: string, f: () => Attrs): Attrs {
  let c = fetchCache.get(state);
  if (!c) fetchCache.set(state, (c = new Map()));
  const hit = c.get(key);
  if (hit) return hit;
  const v = f();
  c.set(key, v);
  return v;
}

function inputKey(fetcher: string, input: InputAttrs): string {
  return JSON.stringify([fetcher, [...input].map(([k, v]) => [k, typeof v === 'bigint' ? `${v}n` : v]).sort()]);
}

/** fetchTree's fetching, once its argument is checked (called by flakes.ts). */
export function fetchTreeInput(state: EvalState, input: InputAttrs, shown: string, pos: Pos | null): Value {
  return cached(state, inputKey('fetchTree', input), () => {
    const res = fetchInput(state, input, shown, pos, 'fetchTree');
    return treeAttrs(input, res, false);
  });
}

/** A Git URL from a path or URL string (CppNix's fixGitURL). */
function fixGitURL(url: string): string {
  if (url.startsWith('/')) return `file://${url}`;
  return url;
}

function fetchGit(state: EvalState, arg: Value, pos: Pos | null): Value {
  const v = force(arg);
  const attrs: InputAttrs = new Map<string, InputAttr>([['type', 'git']]);
  if (v instanceof Attrs) {
    for (const k of v.keys()) {
      const a = force(v.get(k)!);
      if (typeof a === 'string' || a instanceof NixStr || a instanceof NixPath) {
        const s = coerceToString(a, v.posOf(k) ?? null, {}).s;
        attrs.set(k, k === 'url' ? fixGitURL(s) : s);
      } else if (typeof a === 'boolean') attrs.set(k, a);
      else if (typeof a === 'number' || typeof a === 'bigint') {
        if (a < 0) throw new NixError(`negative value given for 'fetchGit' argument '${k}': ${a}`);
        attrs.set(k, BigInt(a));
      } else {
        throw new NixError(`argument '${k}' to 'fetchGit' is ${typeName(a)} while a string, Boolean or integer is expected`);
      }
    }
    if (!attrs.has('url')) throw new NixError(`attribute 'url' is missing`);
  } else {
    const url = coerceToString(v, null, { errCtx: "while evaluating the first argument passed to the fetcher 'fetchGit'" }).s;
    attrs.set('url', fixGitURL(url));
  }
  if (typeof attrs.get('rev') === 'string') attrs.set('rev', checkRev(attrs.get('rev') as string));
  const input = inputFromAttrs(attrs);
  const shown = urlToString(inputToURL(input));
  return cached(state, inputKey('fetchGit', input), () => {
    try {
      return treeAttrs(input, fetchInput(state, input, shown, pos, 'fetchGit'), true);
    } catch (e) {
      if (e instanceof NixError) e.addTrace(`while fetching the input '${shown}'`);
      throw e;
    }
  });
}

// ---------------------------------------------------------------- fetchClosure

function isContentAddressed(ni: NarInfo, storeDir: string): boolean {
  if (ni.ca === undefined) return false;
  try {
    const refs = ni.references.filter((r) => r !== ni.storePath);
    const name = ni.storePath.slice(storeDir.length + 34);
    return makeContentAddressedPath(name, parseContentAddress(ni.ca), refs, storeDir, refs.length !== ni.references.length) === ni.storePath;
  } catch {
    return false;
  }
}

function fetchClosure(state: EvalState, arg: Value, pos: Pos | null): Value {
  const a = forceAttrs(force(arg), pos, 'while evaluating the argument passed to builtins.fetchClosure');
  const storeDir = state.store.storeDir;
  let fromStore: string | undefined;
  let fromPath: string | undefined;
  let toPath: string | null | undefined; // null: "" (asks for the path)
  let inputAddressed: boolean | undefined;
  const storePathOf = (k: string): string => {
    const hint = `while evaluating the '${k}' attribute passed to builtins.fetchClosure`;
    const x = force(a.get(k)!);
    const s = x instanceof NixPath ? x.path : coerceToString(x, a.posOf(k) ?? null, { errCtx: hint }).s;
    if (!isStorePath(s, storeDir)) {
      throw new NixError(`path '${s}' is not a valid store path`, a.posOf(k) ?? null).addTrace(hint, a.posOf(k) ?? null);
    }
    return s;
  };
  for (const k of a.keys()) {
    const hint = `while evaluating the '${k}' attribute passed to builtins.fetchClosure`;
    if (k === 'fromPath') fromPath = storePathOf(k);
    else if (k === 'toPath') {
      const x = force(a.get(k)!);
      toPath = (typeof x === 'string' || x instanceof NixStr) && (typeof x === 'string' ? x : x.s) === '' ? null : storePathOf(k);
    } else if (k === 'fromStore') fromStore = forceStringNoCtx(a.get(k)!, a.posOf(k) ?? null, hint);
    else if (k === 'inputAddressed') inputAddressed = forceBool(a.get(k)!, a.posOf(k) ?? null, hint);
    else throw new NixError(`attribute '${k}' isn't supported in call to 'fetchClosure'`, pos);
  }
  if (fromPath === undefined) throw new NixError(`attribute 'fromPath' is missing in call to 'fetchClosure'`, pos);
  if (inputAddressed === true && toPath !== undefined) {
    throw new NixError(`attribute 'inputAddressed' is set to true, but 'toPath' is also set. Please remove one of them`, pos);
  }
  if (fromStore === undefined) throw new NixError(`attribute 'fromStore' is missing in call to 'fetchClosure'`, pos);
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(fromStore)?.[1];
  if (scheme === 'http' || scheme === 'https') {
    throw new NixError(`cannot fetch from '${fromStore}': ${NETWORK_HINT} ('fetchClosure' supports file:// binary caches)`, pos);
  }
  if (scheme !== 'file') throw new NixError(`'fetchClosure' only supports http://, https:// and (in tsnix) file:// stores`, pos);
  if (fromStore.includes('?')) throw new NixError(`'fetchClosure' does not support URL query parameters (in '${fromStore}')`, pos);

  const cache = nixCall(pos, () => {
    const c = new FileBinaryCache(parseCacheUrl(fromStore!), storeDir);
    c.initForReading();
    return c;
  });
  const from = fromPath;
  const infoOf = (p: string): NarInfo => {
    const ni = nixCall(pos, () => cache.readNarInfo(p));
    if (!ni) throw new NixError(`path '${p}' is not valid in binary cache '${cache.url}'`, pos);
    return ni;
  };

  /** Makes the closure of `p` valid in our store, checking signatures as CppNix's copyClosure does. */
  const copy = (p: string): NarInfo => {
    const top = infoOf(p);
    if (state.store.isValidPath(p)) return top;
    const keys = nixCall(pos, () => parsePublicKeys(state.settings.list('trusted-public-keys')));
    const seen = new Set<string>();
    const todo = [p];
    while (todo.length) {
      const q = todo.pop()!;
      if (seen.has(q) || state.store.isValidPath(q)) continue;
      seen.add(q);
      const ni = q === p ? top : infoOf(q);
      if (!isContentAddressed(ni, storeDir)) {
        const fp = { path: q, narHash: ni.narHash, narSize: ni.narSize, references: ni.references };
        if (countValidSignatures(fp, ni.sigs, keys) === 0) {
          throw new NixError(`cannot add path '${q}' because it lacks a signature by a trusted key`, pos);
        }
      }
      for (const r of ni.references) if (r !== q) todo.push(r);
    }
    nixCall(pos, () => state.store.addFromBinaryCache(cache, [p]));
    return top;
  };

  const result = (p: string): Value => new NixStr(p, new Set([p]));
  if (toPath !== undefined) {
    const ni = infoOf(from);
    if (toPath !== null && toPath === from && isContentAddressed(ni, storeDir)) {
      copy(from);
      return result(toPath);
    }
    if (toPath !== null && state.store.isValidPath(toPath)) {
      const tni = cache.readNarInfo(toPath);
      if (tni && !isContentAddressed(tni, storeDir)) {
        throw new NixError(
          `The 'toPath' value '${toPath}' is input-addressed, so it can't possibly be the result of rewriting to a content-addressed path.\n\n` +
            `Set 'toPath' to an empty string to make Nix report the correct content-addressed path.`,
          pos,
        );
      }
      return result(toPath);
    }
    throw new NixError(
      `rewriting '${from}' to content-addressed form is not implemented in tsnix (only a content-addressed 'fromPath' equal to 'toPath' can be fetched with 'toPath')`,
      pos,
    );
  }
  const ni = copy(from);
  const ca = isContentAddressed(ni, storeDir);
  if (inputAddressed === true) {
    if (ca) {
      throw new NixError(
        `The store object referred to by 'fromPath' at '${from}' is not input-addressed, but 'inputAddressed' is set to 'true'.\n\n` +
          `Remove the 'inputAddressed' attribute (it defaults to 'false') to expect 'fromPath' to be content-addressed`,
        pos,
      );
    }
  } else if (!ca) {
    throw new NixError(
      `The 'fromPath' value '${from}' is input-addressed, but 'inputAddressed' is set to 'false' (default).\n\n` +
        `If you do intend to fetch an input-addressed store path, add\n\n    inputAddressed = true;\n\n` +
        `to the 'fetchClosure' arguments.\n\n` +
        `Note that to ensure authenticity input-addressed store paths, users must configure a trusted binary cache public key on their systems. This is not needed for content-addressed paths.`,
      pos,
    );
  }
  return result(from);
}

// ---------------------------------------------------------------- registration

export function register(r: Registry): void {
  const { state } = r;

  r.add({
    name: 'fetchGit',
    args: ['args'],
    global: true,
    doc:
      'Fetch a path from git. *args* can be a URL, in which case the HEAD of the repo at that URL is fetched. ' +
      'Otherwise, it can be an attribute set with `url` and optionally `name` (default `source`), `ref` (a ' +
      'branch, default HEAD), `rev` (a commit hash), `submodules`, `shallow` and `allRefs`. The result is an ' +
      'attribute set with `outPath` (a clean checkout of the commit, without `.git`), `rev`, `shortRev`, ' +
      '`revCount`, `lastModified`, `lastModifiedDate`, `narHash` and `submodules`. A local repository whose ' +
      'working tree has uncommitted changes is taken as it is (its tracked files), with a warning. tsnix ' +
      'fetches local repositories only (paths and file:// URLs); it needs the `git` program.',
    fn: ([a], site) => fetchGit(state, a!, site.pos),
  });

  r.add({
    name: 'fetchClosure',
    args: ['args'],
    doc:
      'Fetch a store path closure from a binary cache, and return the store path as a string with context. ' +
      '*args*: `fromStore` (the cache, a `file://` URL in tsnix), `fromPath` (a content-addressed store path, ' +
      'or an input-addressed one with `inputAddressed = true`), optionally `toPath`. Needs the ' +
      '`fetch-closure` experimental feature.',
    fn: ([a], site) => {
      if (!state.settings.experimentalFeatures.has('fetch-closure')) {
        throw new NixError(new MissingFeatureError('fetch-closure').message, site.pos);
      }
      return fetchClosure(state, a!, site.pos);
    },
  });
}

// Flake references: parseFlakeRef, flakeRefToString (pure functions, as in
// current CppNix), and fetchTree's argument checks.  The fetching itself is in
// fetchers.ts (local inputs only: tsnix has no network access).
//
// A flake reference is an input of a fetcher ("input scheme": github, gitlab,
// sourcehut, git, hg, path, tarball, file, indirect) plus an optional
// subdirectory (`dir`).  Inputs are kept as CppNix's fetchers::Attrs: a map
// from names to strings, non-negative integers or Booleans.

import { NixError } from '../errors.js';
import { coerceToString, forceAttrs, forceStringNoCtx } from '../ops.js';
import { Attrs, NixPath, NixStr, compareBytes, force, typeName, type Value } from '../value.js';
import { fetchTreeInput } from './fetchers.js';
import { argCtx, type Registry } from './registry.js';

/** A fetcher attribute: string, non-negative integer or Boolean. */
export type InputAttr = string | bigint | boolean;
export type InputAttrs = Map<string, InputAttr>;

/** A parsed URL (CppNix's ParsedURL): query parameters sorted by name. */
interface ParsedURL {
  scheme: string;
  /** undefined: no `//` part. */
  authority: string | undefined;
  /** Decoded path. */
  path: string;
  query: Map<string, string>;
  fragment: string;
}

class BadURL extends NixError {}

const FLAKE_ID = '[a-zA-Z][a-zA-Z0-9_-]*';
const REV = '[0-9a-fA-F]{40}';
const REF = '[a-zA-Z0-9@][a-zA-Z0-9_.\\/@+-]*';
const REV_RE = new RegExp(`^${REV}$`);
const REF_RE = new RegExp(`^${REF}$`);
const FLAKE_ID_REF_RE = new RegExp(`^(${FLAKE_ID}(?:/(?:${REV}|${REF}(?:/${REV})?))?)(?:#(.*))?$`);
const SCHEME_RE = /^([a-zA-Z][a-zA-Z0-9+.-]*):(.*)$/s;
const ARCHIVE_EXTS = ['.zip', '.tar', '.tgz', '.tar.gz', '.tar.xz', '.tar.bz2', '.tar.zst'];

// ---------------------------------------------------------------- URLs

export function percentDecode(s: string): string {
  return s.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/** Percent-encodes bytes outside the unreserved set and `keep`. */
export function percentEncode(s: string, keep = ''): string {
  let r = '';
  for (const c of s) {
    if (/[a-zA-Z0-9\-._~]/.test(c) || keep.includes(c)) r += c;
    else r += '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0');
  }
  return r;
}

function decodeQuery(q: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of q.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const k = percentDecode(part.slice(0, eq));
    if (!m.has(k)) m.set(k, percentDecode(part.slice(eq + 1)));
  }
  return m;
}

function encodeQuery(q: Map<string, string>): string {
  return [...q.keys()]
    .sort(compareBytes)
    .map((k) => `${percentEncode(k, '/:@')}=${percentEncode(q.get(k)!, '/:@')}`)
    .join('&');
}

function parseURL(url: string): ParsedURL {
  const m = SCHEME_RE.exec(url);
  if (!m) throw new BadURL(`'${url}' is not a valid URL`);
  let rest = m[2]!;
  let fragment = '';
  const hash = rest.indexOf('#');
  if (hash >= 0) {
    fragment = percentDecode(rest.slice(hash + 1));
    rest = rest.slice(0, hash);
  }
  let query = new Map<string, string>();
  const qm = rest.indexOf('?');
  if (qm >= 0) {
    query = decodeQuery(rest.slice(qm + 1));
    rest = rest.slice(0, qm);
  }
  let authority: string | undefined;
  if (rest.startsWith('//')) {
    const slash = rest.indexOf('/', 2);
    authority = slash < 0 ? rest.slice(2) : rest.slice(2, slash);
    rest = slash < 0 ? '' : rest.slice(slash);
  }
  return { scheme: m[1]!, authority, path: percentDecode(rest), query, fragment };
}

export function urlToString(u: ParsedURL): string {
  let s = `${u.scheme}:`;
  if (u.authority !== undefined) s += `//${u.authority}`;
  s += percentEncode(u.path, "/:@!$&'()*+,;=");
  if (u.query.size) s += '?' + encodeQuery(u.query);
  if (u.fragment) s += '#' + percentEncode(u.fragment, '/:@?');
  return s;
}

/** The URL without the scheme's `X+` prefix (`git+https://…` → `https://…`) and the given query. */
function innerURL(u: ParsedURL, query: Map<string, string>): string {
  const plus = u.scheme.indexOf('+');
  return urlToString({ ...u, scheme: plus >= 0 ? u.scheme.slice(plus + 1) : u.scheme, query, fragment: '' });
}

function hasArchiveExt(path: string): boolean {
  return ARCHIVE_EXTS.some((e) => path.endsWith(e));
}

// ---------------------------------------------------------------- input schemes

interface InputScheme {
  type: string;
  /** The input of a URL of this scheme, or null if the URL is not one. */
  fromURL(u: ParsedURL, raw: string): InputAttrs | null;
  /** The attribute names an input of this type may have (besides `type`). */
  allowed: string[];
  required: string[];
  toURL(a: InputAttrs): ParsedURL;
}

const str = (a: InputAttrs, k: string): string | undefined => {
  const v = a.get(k);
  return typeof v === 'string' ? v : undefined;
};

function gitArchive(type: string): InputScheme {
  return {
    type,
    allowed: ['owner', 'repo', 'ref', 'rev', 'narHash', 'lastModified', 'host', 'treeHash'],
    required: ['owner', 'repo'],
    fromURL(u, raw) {
      if (u.scheme !== type) return null;
      const path = u.path.split('/').filter((p) => p !== '');
      let rev: string | undefined;
      let ref: string | undefined;
      if (path.length === 3) {
        if (REV_RE.test(path[2]!)) rev = path[2]!.toLowerCase();
        else if (REF_RE.test(path[2]!)) ref = path[2]!;
        else throw new BadURL(`in URL '${raw}', '${path[2]}' is not a commit hash or branch/tag name`);
      } else if (path.length > 3) {
        ref = path.slice(2).join('/');
        if (!REF_RE.test(ref)) throw new BadURL(`in URL '${raw}', '${ref}' is not a branch/tag name`);
      } else if (path.length < 2) throw new BadURL(`URL '${raw}' is invalid`);
      let host: string | undefined;
      for (const [k, v] of u.query) {
        if (k === 'rev') {
          if (rev) throw new BadURL(`URL '${raw}' contains multiple commit hashes`);
          if (!REV_RE.test(v)) throw new BadURL(`URL '${raw}' contains an invalid commit hash`);
          rev = v.toLowerCase();
        } else if (k === 'ref') {
          if (!REF_RE.test(v)) throw new BadURL(`URL '${raw}' contains an invalid branch/tag name`);
          if (ref) throw new BadURL(`URL '${raw}' contains multiple branch/tag names`);
          ref = v;
        } else if (k === 'host') {
          if (!/^[a-zA-Z0-9.-]*$/.test(v)) throw new BadURL(`URL '${raw}' contains an invalid instance host`);
          host = v;
        }
      }
      if (ref && rev) throw new BadURL(`URL '${raw}' contains both a commit hash and a branch/tag name ${ref} ${rev}`);
      const a: InputAttrs = new Map<string, InputAttr>([
        ['type', type],
        ['owner', path[0]!],
        ['repo', path[1]!],
      ]);
      if (rev) a.set('rev', rev);
      if (ref) a.set('ref', ref);
      if (host) a.set('host', host);
      return a;
    },
    toURL(a) {
      let path = `${str(a, 'owner')}/${str(a, 'repo')}`;
      const ref = str(a, 'ref');
      const rev = str(a, 'rev');
      if (ref) path += `/${ref}`;
      if (rev) path += `/${rev}`;
      const query = new Map<string, string>();
      const narHash = str(a, 'narHash');
      if (narHash) query.set('narHash', narHash);
      const host = str(a, 'host');
      if (host) query.set('host', host);
      return { scheme: type, authority: undefined, path, query, fragment: '' };
    },
  };
}

/** Query parameters of a git/hg URL that are input attributes (ints and Booleans converted). */
function vcsParams(
  u: ParsedURL,
  raw: string,
  ints: string[],
  bools: string[],
  strs: string[],
): { attrs: [string, InputAttr][]; rest: Map<string, string> } {
  const attrs: [string, InputAttr][] = [];
  const rest = new Map<string, string>();
  for (const [k, v] of u.query) {
    if (ints.includes(k)) {
      if (!/^[0-9]+$/.test(v)) throw new BadURL(`URL '${raw}' has a non-integer value for '${k}'`);
      attrs.push([k, BigInt(v)]);
    } else if (bools.includes(k)) attrs.push([k, v === '1']);
    else if (strs.includes(k)) attrs.push([k, v]);
    else rest.set(k, v);
  }
  return { attrs, rest };
}

const GIT_BOOLS = ['shallow', 'submodules', 'lfs', 'exportIgnore', 'allRefs', 'verifyCommit'];
const GIT_STRS = ['ref', 'rev', 'narHash', 'keytype', 'publicKey', 'publicKeys', 'name', 'dirtyRev', 'dirtyShortRev'];

const gitScheme: InputScheme = {
  type: 'git',
  allowed: ['url', ...GIT_STRS, ...GIT_BOOLS, 'lastModified', 'revCount'],
  required: ['url'],
  fromURL(u, raw) {
    if (!['git', 'git+http', 'git+https', 'git+ssh', 'git+file'].includes(u.scheme)) return null;
    const { attrs, rest } = vcsParams(u, raw, ['lastModified', 'revCount'], GIT_BOOLS, GIT_STRS);
    const a: InputAttrs = new Map<string, InputAttr>([['type', 'git']]);
    for (const [k, v] of attrs) a.set(k, v);
    const ref = str(a, 'ref');
    if (ref !== undefined && !REF_RE.test(ref)) throw new BadURL(`invalid Git branch/tag name '${ref}'`);
    const rev = str(a, 'rev');
    if (rev !== undefined && !REV_RE.test(rev)) throw new BadURL(`invalid Git revision '${rev}'`);
    a.set('url', u.scheme === 'git' ? urlToString({ ...u, query: rest, fragment: '' }) : innerURL(u, rest));
    return a;
  },
  toURL(a) {
    const u = parseURL(str(a, 'url')!);
    if (u.scheme !== 'git') u.scheme = `git+${u.scheme}`;
    for (const k of ['ref', 'rev', 'narHash']) {
      const v = str(a, k);
      if (v !== undefined) u.query.set(k, v);
    }
    for (const k of ['shallow', 'submodules', 'lfs', 'exportIgnore', 'allRefs']) {
      if (a.get(k) === true) u.query.set(k, '1');
    }
    for (const k of ['lastModified', 'revCount']) {
      const v = a.get(k);
      if (typeof v === 'bigint') u.query.set(k, String(v));
    }
    return u;
  },
};

const hgScheme: InputScheme = {
  type: 'hg',
  allowed: ['url', 'ref', 'rev', 'revCount', 'narHash', 'name', 'lastModified'],
  required: ['url'],
  fromURL(u, raw) {
    if (!['hg+http', 'hg+https', 'hg+ssh', 'hg+file'].includes(u.scheme)) return null;
    const { attrs, rest } = vcsParams(u, raw, ['revCount', 'lastModified'], [], ['ref', 'rev', 'narHash', 'name']);
    const a: InputAttrs = new Map<string, InputAttr>([['type', 'hg']]);
    for (const [k, v] of attrs) a.set(k, v);
    a.set('url', innerURL(u, rest));
    return a;
  },
  toURL(a) {
    const u = parseURL(str(a, 'url')!);
    u.scheme = `hg+${u.scheme}`;
    for (const k of ['ref', 'rev', 'narHash']) {
      const v = str(a, k);
      if (v !== undefined) u.query.set(k, v);
    }
    return u;
  },
};

const pathScheme: InputScheme = {
  type: 'path',
  allowed: ['path', 'rev', 'revCount', 'lastModified', 'narHash'],
  required: ['path'],
  fromURL(u, raw) {
    if (u.scheme !== 'path') return null;
    if (u.authority !== undefined && u.authority !== '') throw new BadURL(`path URL '${raw}' should not have an authority ('${u.authority}')`);
    const a: InputAttrs = new Map<string, InputAttr>([
      ['type', 'path'],
      ['path', u.path],
    ]);
    for (const [k, v] of u.query) {
      if (k === 'rev' || k === 'narHash') a.set(k, v);
      else if (k === 'revCount' || k === 'lastModified') {
        if (!/^[0-9]+$/.test(v)) throw new BadURL(`path URL '${raw}' has invalid parameter '${k}'`);
        a.set(k, BigInt(v));
      } else throw new BadURL(`path URL '${raw}' has unsupported parameter '${k}'`);
    }
    return a;
  },
  toURL(a) {
    const query = new Map<string, string>();
    for (const [k, v] of a) if (k !== 'type' && k !== 'path') query.set(k, typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
    return { scheme: 'path', authority: undefined, path: str(a, 'path')!, query, fragment: '' };
  },
};

/** tarball and file inputs (CppNix's CurlInputScheme). */
function curlScheme(type: 'tarball' | 'file'): InputScheme {
  const transports = ['file', 'http', 'https'];
  return {
    type,
    allowed: ['url', 'narHash', 'name', 'unpack', 'rev', 'revCount', 'lastModified'],
    required: ['url'],
    fromURL(u) {
      const plus = u.scheme.indexOf('+');
      if (plus >= 0) {
        if (u.scheme.slice(0, plus) !== type || !transports.includes(u.scheme.slice(plus + 1))) return null;
      } else {
        if (!transports.includes(u.scheme)) return null;
        if (hasArchiveExt(u.path) !== (type === 'tarball')) return null;
      }
      const rest = new Map<string, string>();
      const a: InputAttrs = new Map<string, InputAttr>([['type', type]]);
      for (const [k, v] of u.query) {
        if (k === 'narHash' || k === 'name' || k === 'rev') a.set(k, v);
        else if ((k === 'revCount' || k === 'lastModified') && /^[0-9]+$/.test(v)) a.set(k, BigInt(v));
        else if (k === 'unpack') a.set(k, v === '1');
        else rest.set(k, v);
      }
      a.set('url', innerURL(u, rest));
      return a;
    },
    toURL(a) {
      const u = parseURL(str(a, 'url')!);
      const plain = transports.includes(u.scheme) && hasArchiveExt(u.path) === (type === 'tarball');
      if (!plain) u.scheme = `${type}+${u.scheme}`;
      const narHash = str(a, 'narHash');
      if (narHash) u.query.set('narHash', narHash);
      return u;
    },
  };
}

const indirectScheme: InputScheme = {
  type: 'indirect',
  allowed: ['id', 'ref', 'rev', 'narHash'],
  required: ['id'],
  fromURL(u, raw) {
    if (u.scheme !== 'flake') return null;
    const path = u.path.split('/');
    let ref: string | undefined;
    let rev: string | undefined;
    if (path.length === 1) {
      /* id only */
    } else if (path.length === 2) {
      if (REV_RE.test(path[1]!)) rev = path[1];
      else if (REF_RE.test(path[1]!)) ref = path[1];
      else throw new BadURL(`in flake URL '${raw}', '${path[1]}' is not a commit hash or branch/tag name`);
    } else if (path.length === 3) {
      if (!REF_RE.test(path[1]!)) throw new BadURL(`in flake URL '${raw}', '${path[1]}' is not a branch/tag name`);
      ref = path[1];
      if (!REV_RE.test(path[2]!)) throw new BadURL(`in flake URL '${raw}', '${path[2]}' is not a commit hash`);
      rev = path[2];
    } else throw new BadURL(`GitHub URL '${raw}' is invalid`);
    const id = path[0]!;
    if (!new RegExp(`^${FLAKE_ID}$`).test(id)) throw new BadURL(`'${id}' is not a valid flake ID`);
    const a: InputAttrs = new Map<string, InputAttr>([
      ['type', 'indirect'],
      ['id', id],
    ]);
    if (rev) a.set('rev', rev);
    if (ref) a.set('ref', ref);
    return a;
  },
  toURL(a) {
    let path = str(a, 'id')!;
    const ref = str(a, 'ref');
    const rev = str(a, 'rev');
    if (ref) path += `/${ref}`;
    if (rev) path += `/${rev}`;
    return { scheme: 'flake', authority: undefined, path, query: new Map(), fragment: '' };
  },
};

const SCHEMES: InputScheme[] = [
  indirectScheme,
  gitArchive('github'),
  gitArchive('gitlab'),
  gitArchive('sourcehut'),
  gitScheme,
  hgScheme,
  pathScheme,
  curlScheme('tarball'),
  curlScheme('file'),
];

function inputFromURL(u: ParsedURL, raw: string): InputAttrs {
  for (const s of SCHEMES) {
    const a = s.fromURL(u, raw);
    if (a) return a;
  }
  throw new BadURL(`input '${raw}' is unsupported`);
}

/** CppNix's Input::fromAttrs: checks the attributes against the input type. */
export function inputFromAttrs(attrs: InputAttrs): InputAttrs {
  const type = attrs.get('type');
  if (typeof type !== 'string') throw new NixError(`'type' attribute missing in input attribute set '${attrsToJSON(attrs)}'`);
  const s = SCHEMES.find((x) => x.type === type);
  if (!s) throw new NixError(`unsupported input type '${type}'`);
  for (const k of attrs.keys()) {
    if (k !== 'type' && !s.allowed.includes(k) && !k.startsWith('__')) throw new NixError(`unsupported input attribute '${k}'`);
  }
  for (const k of s.required) {
    const v = attrs.get(k);
    if (v === undefined) throw new NixError(`attribute '${k}' is missing`);
    if (typeof v !== 'string') throw new NixError(`attribute '${k}' should be a string`);
  }
  return attrs;
}

function attrsToJSON(a: InputAttrs): string {
  return `{${[...a.keys()]
    .sort(compareBytes)
    .map((k) => {
      const v = a.get(k)!;
      return `${JSON.stringify(k)}:${typeof v === 'string' ? JSON.stringify(v) : String(v)}`;
    })
    .join(',')}}`;
}

export function inputToURL(a: InputAttrs): ParsedURL {
  const s = SCHEMES.find((x) => x.type === a.get('type'))!;
  return s.toURL(a);
}

// ---------------------------------------------------------------- flake references

export interface FlakeRef {
  input: InputAttrs;
  subdir: string;
}

function fromParsedURL(u: ParsedURL, raw: string): FlakeRef {
  const dir = u.query.get('dir') ?? '';
  u.query.delete('dir');
  if (u.fragment !== '') throw new NixError(`unexpected fragment '${u.fragment}' in flake reference '${raw}'`);
  return { input: inputFromURL(u, raw), subdir: dir };
}

/** CppNix's parseFlakeRef without a base directory (what builtins.parseFlakeRef does). */
export function parseFlakeRef(url: string): FlakeRef {
  const id = FLAKE_ID_REF_RE.exec(url);
  if (id) {
    const fragment = percentDecode(id[2] ?? '');
    if (fragment !== '') throw new NixError(`unexpected fragment '${fragment}' in flake reference '${url}'`);
    return { input: inputFromURL({ scheme: 'flake', authority: undefined, path: id[1]!, query: new Map(), fragment: '' }, `flake:${id[1]}`), subdir: '' };
  }
  if (SCHEME_RE.test(url)) {
    try {
      return fromParsedURL(parseURL(url), url);
    } catch (e) {
      if (!(e instanceof BadURL)) throw e;
      // as CppNix: a string that is no valid URL is tried as a path
      if (!url.startsWith('/')) throw e;
    }
  }
  const m = /^([^?#]*)(?:\?([^#]*))?(?:#(.*))?$/s.exec(url);
  if (!m) throw new NixError(`invalid flakeref '${url}'`);
  const path = m[1]!;
  if (!path.startsWith('/')) throw new NixError(`flake reference '${url}' is not an absolute path`);
  return fromParsedURL(
    { scheme: 'path', authority: '', path, query: decodeQuery(m[2] ?? ''), fragment: percentDecode(m[3] ?? '') },
    url,
  );
}

export function flakeRefToString(r: FlakeRef): string {
  const u = inputToURL(r.input);
  if (r.subdir !== '') u.query.set('dir', r.subdir);
  return urlToString(u);
}

export function flakeRefToAttrs(r: FlakeRef): InputAttrs {
  const a = new Map(r.input);
  if (r.subdir !== '') a.set('dir', r.subdir);
  return a;
}

function attrsToValue(a: InputAttrs): Attrs {
  const m = new Map<string, Value>();
  for (const [k, v] of a) m.set(k, typeof v === 'bigint' ? (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v) : v);
  return new Attrs(m);
}

// ---------------------------------------------------------------- builtins

export function register(r: Registry): void {
  r.add({
    name: 'parseFlakeRef',
    args: ['flake-ref'],
    doc: 'Parse a flake reference, and return its exploded form.\n\nFor example:\n\n```nix\nbuiltins.parseFlakeRef "github:NixOS/nixpkgs/23.05?dir=lib"\n```\n\nevaluates to:\n\n```nix\n{ dir = "lib"; owner = "NixOS"; ref = "23.05"; repo = "nixpkgs"; type = "github"; }\n```',
    fn: ([s]) => {
      const url = forceStringNoCtx(s!, null, argCtx('parseFlakeRef', 0));
      return attrsToValue(flakeRefToAttrs(parseFlakeRef(url)));
    },
  });

  r.add({
    name: 'flakeRefToString',
    args: ['attrs'],
    doc: 'Convert a flake reference from attribute set format to URL format.\n\nFor example:\n\n```nix\nbuiltins.flakeRefToString {\n  dir = "lib"; owner = "NixOS"; ref = "23.05"; repo = "nixpkgs"; type = "github";\n}\n```\n\nevaluates to\n\n```nix\n"github:NixOS/nixpkgs/23.05?dir=lib"\n```',
    fn: ([v]) => {
      const a = forceAttrs(force(v!), null, argCtx('flakeRefToString', 0));
      const attrs: InputAttrs = new Map();
      for (const k of a.keys()) {
        const x = force(a.get(k)!);
        if (typeof x === 'number' || typeof x === 'bigint') {
          if (x < 0) throw new NixError(`negative value given for flake ref attr ${k}: ${x}`);
          attrs.set(k, BigInt(x));
        } else if (typeof x === 'boolean') attrs.set(k, x);
        else if (typeof x === 'string' || x instanceof NixStr) attrs.set(k, typeof x === 'string' ? x : x.s);
        else {
          throw new NixError(
            `flake reference attribute sets may only contain integers, Booleans, and strings, but attribute '${k}' is ${typeName(x)}`,
          );
        }
      }
      const dir = attrs.get('dir');
      attrs.delete('dir');
      return flakeRefToString({ input: inputFromAttrs(attrs), subdir: typeof dir === 'string' ? dir : '' });
    },
  });

  r.add({
    name: 'fetchTree',
    args: ['input'],
    global: true,
    doc: 'Fetch a file system tree or a plain file using one of the supported backends and return an attribute set with `outPath`, `narHash` and, depending on the type, `rev`, `revCount`, `lastModified`, … . *input* is a URL (`git+file:///repo`, `file:///x.tar.gz`, `path:/dir`) or an attribute set with `type` (`path`, `file`, `tarball`, `git`) and its attributes; with `narHash`, the fetched tree must have that NAR hash. tsnix fetches local inputs only (paths, file:// URLs, local Git repositories).',
    fn: ([v], site) => {
      const x = force(v!);
      let input: InputAttrs;
      let shown: string;
      if (x instanceof Attrs) {
        const typeV = x.get('type');
        if (typeV === undefined) throw new NixError(`argument 'type' is missing in call to 'fetchTree'`);
        const type = forceStringNoCtx(typeV, x.posOf('type') ?? null, "while evaluating the `type` argument passed to 'fetchTree'");
        const attrs: InputAttrs = new Map([['type', type]]);
        for (const k of x.keys()) {
          if (k === 'type') continue;
          const a = force(x.get(k)!);
          if (typeof a === 'string' || a instanceof NixStr || a instanceof NixPath) {
            attrs.set(k, coerceToString(a, x.posOf(k) ?? null, {}).s);
          } else if (typeof a === 'boolean') attrs.set(k, a);
          else if (typeof a === 'number' || typeof a === 'bigint') {
            if (a < 0) throw new NixError(`negative value given for 'fetchTree' argument '${k}': ${a}`);
            attrs.set(k, BigInt(a));
          } else {
            throw new NixError(`argument '${k}' to 'fetchTree' is ${typeName(a)} while a string, Boolean or integer is expected`);
          }
        }
        if (attrs.has('name')) throw new NixError(`argument 'name' isn’t supported in call to 'fetchTree'`);
        input = inputFromAttrs(attrs);
        shown = urlToString(inputToURL(input));
      } else {
        const url = coerceToString(x, null, { errCtx: "while evaluating the first argument passed to 'fetchTree'" }).s;
        input = inputFromURL(parseURL(url), url);
        shown = urlToString(inputToURL(input));
      }
      try {
        const e = fetchError(input);
        if (e) throw e;
        return fetchTreeInput(r.state, input, shown, site.pos);
      } catch (e) {
        if (e instanceof NixError) e.addTrace(`while fetching the input '${shown}'`);
        throw e;
      }
    },
  });
}

/** CppNix's checks done before any download: an error, or null. */
function fetchError(input: InputAttrs): NixError | null {
  const type = input.get('type');
  const url = str(input, 'url');
  if ((type === 'tarball' || type === 'file') && url !== undefined) {
    const u = parseURL(url);
    if (u.scheme === 'file' && u.authority === undefined && !u.path.startsWith('/')) {
      return new NixError(`tarball '${url}' must use an absolute path. The 'file' scheme does not support relative paths.`);
    }
  }
  return null;
}

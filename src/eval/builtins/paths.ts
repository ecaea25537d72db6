// Files, paths, imports and the environment: import, scopedImport, readFile,
// readDir, readFileType, pathExists, getEnv, toPath, baseNameOf, dirOf,
// findFile, nixPath, storeDir, currentSystem, currentTime, langVersion,
// nixVersion.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromBytes, toBytes } from '../../../grammar/errors.js';
import { canonPath } from '../compile.js';
import { storeReadBarrier } from '../../store/background-writer.js';
import { toFsPath } from '../../store/fs-path.js';
import { NixError, ThrownError } from '../errors.js';
import { coerceToString, forceStringNoCtx, peelToStringOutPath } from '../ops.js';
import { Attrs, EMPTY_CTX, NixPath, NixStr, force, mkStr, type Context, type Value } from '../value.js';
import type { EvalState } from '../state.js';
import type { Pos } from '../../../grammar/ast.js';
import { argCtx, attrsArg, listArg, missingAttr, type Registry } from './registry.js';

/** tsnix's own Nix files for `<nix/…>`: corepkgs/ at the top of the package (found upwards from this module). */
let corepkgs: string | null | undefined;
function corepkgsDir(): string | null {
  if (corepkgs !== undefined) return corepkgs;
  corepkgs = null;
  let d = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++, d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'corepkgs', 'fetchurl.nix'))) return (corepkgs = path.join(d, 'corepkgs'));
  }
  return null;
}

/** The version of CppNix whose behaviour tsnix follows (nixpkgs checks it). */
export const NIX_VERSION = '2.31.0';

/** The frame CppNix gives errors of the path arguments of readFile, readDir, import, … */
export const REALISE_CTX = 'while realising the context of a path';


/**
 * CppNix's coerceToPath: a path, or something that coerces (without copying
 * to the store) to a string that is an absolute path, canonicalised.
 */
export function coerceToPath(v: Value, pos: Pos | null, ctx: string): { path: string; ctx: Context } {
  try {
    v = force(v);
  } catch (e) {
    if (e instanceof NixError) e.addTrace(ctx, pos);
    throw e;
  }
  return peelToStringOutPath(v, pos, false, (p) => {
    if (p instanceof NixPath) return { path: p.path, ctx: EMPTY_CTX };
    const r = coerceToString(p, pos, { errCtx: ctx });
    if (!r.s.startsWith('/')) throw new NixError(`string '${r.s}' doesn't represent an absolute path`).addTrace(ctx, pos);
    return { path: canonPath(r.s), ctx: r.ctx };
  });
}

/** CppNix's realisePath: the path argument of readFile, readDir, import, … (`ctx` is normally REALISE_CTX). */
export function realisePath(state: EvalState, v: Value, pos: Pos | null, ctx: string = REALISE_CTX): string {
  void state;
  void pos;
  return coerceToPath(v, null, ctx).path;
}

/** Resolves symlinks at the end of a path (as CppNix's SymlinkResolution::Full does for the paths builtins read). */
function resolveLinks(file: string): string {
  for (let i = 0; i < 40; i++) {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(fsPath(file));
    } catch {
      return file;
    }
    if (!st.isSymbolicLink()) return file;
    const target = fs.readlinkSync(fsPath(file), { encoding: 'buffer' }).toString('latin1');
    file = canonPath(target.startsWith('/') ? target : `${file.slice(0, file.lastIndexOf('/')) || '/'}/${target}`);
  }
  return file;
}

/** lstat of a path (bytes as latin1), null if it cannot be (also waits for a queued store file: storeReadBarrier). */
export function lstatOrNull(p: string): fs.Stats | null {
  storeReadBarrier(p);
  try {
    return fs.lstatSync(toFsPath(p));
  } catch {
    return null;
  }
}

/** A path (bytes as latin1) for node's fs, which keeps bytes that are not UTF-8 only in a Buffer. */
function fsPath(p: string): Buffer {
  storeReadBarrier(p);
  return toFsPath(p);
}

function fileType(st: fs.Stats): string {
  if (st.isDirectory()) return 'directory';
  if (st.isFile()) return 'regular';
  if (st.isSymbolicLink()) return 'symlink';
  return 'unknown';
}

export function register(r: Registry): void {
  const { state } = r;

  r.add({
    name: 'import',
    args: ['path'],
    global: true,
    doc: 'Load, parse, and return the Nix expression in the file *path*. If *path* is a directory, the file `default.nix` in that directory is used if it exists.',
    fn: ([p], site) => {
      const file = realisePath(state, p!, null);
      return state.evalFile(file, site.pos);
    },
  });

  r.add({
    name: 'scopedImport',
    args: ['scope', 'path'],
    global: true,
    doc: 'Like `import`, but the expression in *path* sees the attributes of *scope* as variables (taking precedence over builtins).',
    fn: ([sc, p], site) => {
      // the path is checked before the scope
      const file = realisePath(state, p!, null);
      const scope = attrsArg(sc!, argCtx('scopedImport', 0));
      return state.evalFileScoped(file, scope, site.pos);
    },
  });

  r.add({
    name: 'readFile',
    args: ['path'],
    doc: 'Return the contents of the file *path* as a string.',
    fn: ([p]) => {
      const file = resolveLinks(realisePath(state, p!, null));
      let s: string;
      try {
        s = fs.readFileSync(fsPath(file)).toString('latin1');
      } catch (e) {
        throw ioError(e, file);
      }
      if (s.includes('\0')) throw new NixError(`the contents of the file '${file}' cannot be represented as a Nix string`);
      return s;
    },
  });

  r.add({
    name: 'readDir',
    args: ['path'],
    doc: 'Return the contents of the directory *path* as a set mapping directory entries to the corresponding file type. For instance, if directory `A` contains a regular file `B` and another directory `C`, then `builtins.readDir ./A` returns the set\n\n```nix\n{ B = "regular"; C = "directory"; }\n```\n\nThe possible values for the file type are `"regular"`, `"directory"`, `"symlink"` and `"unknown"`.',
    fn: ([p]) => {
      const dir = resolveLinks(realisePath(state, p!, null));
      let ents: fs.Dirent<Buffer>[];
      try {
        if (!fs.statSync(fsPath(dir)).isDirectory()) throw new NixError(`'${dir}' is not a directory`);
        ents = fs.readdirSync(fsPath(dir), { withFileTypes: true, encoding: 'buffer' });
      } catch (e) {
        if (e instanceof NixError) throw e;
        throw ioError(e, dir);
      }
      const m = new Map<string, Value>();
      const named = ents.map((d) => ({ d, name: d.name.toString('latin1') }));
      for (const { d, name } of named.sort((a, b) => (a.name < b.name ? -1 : 1))) {
        const t = d.isDirectory() ? 'directory' : d.isFile() ? 'regular' : d.isSymbolicLink() ? 'symlink' : 'unknown';
        m.set(name, t);
      }
      return new Attrs(m);
    },
  });

  r.add({
    name: 'readFileType',
    args: ['p'],
    doc: 'Determine the directory entry type of a filesystem node, being one of `"directory"`, `"regular"`, `"symlink"`, or `"unknown"`.',
    fn: ([p]) => {
      const file = realisePath(state, p!, null);
      try {
        return fileType(fs.lstatSync(fsPath(file)));
      } catch (e) {
        throw ioError(e, file);
      }
    },
  });

  r.add({
    name: 'pathExists',
    args: ['path'],
    doc: 'Return `true` if the path *path* exists at evaluation time, and `false` otherwise.',
    fn: ([p]) => {
      const v = force(p!);
      // CppNix: a string ending in `/` or `/.` must name a directory (symlinks followed)
      const s = typeof v === 'string' ? v : v instanceof NixStr ? v.s : null;
      const mustBeDir = s !== null && (s.endsWith('/') || s.endsWith('/.'));
      const file = realisePath(state, v, null);
      try {
        return mustBeDir ? fs.statSync(fsPath(file)).isDirectory() : (fs.lstatSync(fsPath(file)), true);
      } catch {
        return false;
      }
    },
  });

  r.add({
    name: 'getEnv',
    args: ['s'],
    doc: '`getEnv` returns the value of the environment variable *s*, or an empty string if the variable doesn’t exist. This function should be used with care, as it can introduce all sorts of nasty environment dependencies in your Nix expression.',
    fn: ([s]) => {
      const name = forceStringNoCtx(s!, null, argCtx('getEnv', 0));
      if (state.settings.bool('pure-eval')) return '';
      const v = state.env[fromBytes(name)];
      return v === undefined ? '' : toBytes(v);
    },
  });

  r.add({
    name: 'toPath',
    args: ['s'],
    doc: '**DEPRECATED.** Use `/. + "/path"` to convert a string into an absolute path. For relative paths, use `./. + "/path"`.',
    fn: ([s]) => {
      const r0 = coerceToPath(s!, null, argCtx('toPath', 0));
      return mkStr(r0.path, r0.ctx);
    },
  });

  r.add({
    name: 'baseNameOf',
    args: ['x'],
    global: true,
    doc: 'Return the *base name* of either a path value *x* or a string *x*, depending on which type is passed, and according to the following rules.\n\nFor a path value, the *base name* is considered to be the part of the path after the last directory separator, including any file extensions.\n\nFor a string, the *base name* is considered to be the part of the string after the last directory separator (ignoring a trailing one).',
    fn: ([x]) => {
      const v = force(x!);
      if (v instanceof NixPath) return v.path.slice(v.path.lastIndexOf('/') + 1);
      const r0 = coerceToString(v, null, { errCtx: argCtx('baseNameOf', 0) });
      let s = r0.s;
      if (s.endsWith('/')) s = s.slice(0, -1);
      return mkStr(s.slice(s.lastIndexOf('/') + 1), r0.ctx);
    },
  });

  r.add({
    name: 'dirOf',
    args: ['s'],
    global: true,
    doc: 'Return the directory part of the string *s*, that is, everything before the final slash in the string. This is similar to the GNU `dirname` command.',
    fn: ([x]) => {
      const v = force(x!);
      if (v instanceof NixPath) {
        const i = v.path.lastIndexOf('/');
        return new NixPath(i <= 0 ? '/' : v.path.slice(0, i));
      }
      const r0 = coerceToString(v, null, { errCtx: argCtx('dirOf', 0) });
      const s = r0.s;
      const i = s.lastIndexOf('/');
      if (i < 0) return mkStr('.', r0.ctx);
      if (i === 0) return mkStr('/', r0.ctx);
      return mkStr(s.slice(0, i), r0.ctx);
    },
  });

  r.add({
    name: 'findFile',
    args: ['search-path', 'lookup-path'],
    doc: 'Find *lookup-path* in *search-path*. This is what `<nixpkgs>` desugars to: `builtins.findFile builtins.nixPath "nixpkgs"`.',
    fn: ([sp, p], site) => {
      const list = listArg(sp!, argCtx('findFile', 0));
      const entries = list.map((el) => {
        const a = attrsArg(el, 'while evaluating an element of the list passed to builtins.findFile');
        const prefixV = a.get('prefix');
        const prefix =
          prefixV === undefined
            ? ''
            : forceStringNoCtx(prefixV, null, 'while evaluating the `prefix` attribute of an element of the list passed to builtins.findFile');
        const pv = a.get('path');
        if (pv === undefined) throw missingAttr('path', 'in an element of the __nixPath');
        const base = coerceToString(force(pv), null, {
          errCtx: 'while evaluating the `path` attribute of an element of the list passed to builtins.findFile',
        }).s;
        return { prefix, base };
      });
      const want = forceStringNoCtx(p!, null, argCtx('findFile', 1));
      for (const { prefix, base } of entries) {
        let rest: string;
        if (prefix === '') rest = want;
        else if (want === prefix) rest = '';
        else if (want.startsWith(prefix + '/')) rest = want.slice(prefix.length + 1);
        else continue;
        const cand = rest ? `${base.replace(/\/$/, '')}/${rest}` : base;
        const abs = cand.startsWith('/') ? cand : path.posix.resolve(toBytes(process.cwd()), cand);
        if (fs.existsSync(fsPath(abs))) return new NixPath(canonPath(abs));
      }
      // <nix/…>: the files CppNix ships with itself (corepkgs), after the search path
      const core = want.startsWith('nix/') ? corepkgsDir() : null;
      if (core) {
        const f = path.join(core, fromBytes(want.slice(4)));
        if (fs.existsSync(f)) return new NixPath(toBytes(f));
      }
      throw new ThrownError(`file '${want}' was not found in the Nix search path (add it using $NIX_PATH or -I)`, site.pos);
    },
  });

  r.value('nixPath', null, {
    lazy: () =>
      state.searchPath.map((entry) => {
        const eq = entry.indexOf('=');
        const prefix = eq >= 0 ? entry.slice(0, eq) : '';
        const p = eq >= 0 ? entry.slice(eq + 1) : entry;
        return new Attrs(
          new Map<string, Value>([
            ['path', toBytes(p)],
            ['prefix', toBytes(prefix)],
          ]),
        );
      }),
  });
  r.value('langVersion', 6, { doc: 'The version of the Nix language supported by this evaluator.' });
  r.value('nixVersion', NIX_VERSION, { doc: 'The version of Nix (the CppNix release whose behaviour tsnix follows).' });
  r.value('currentSystem', state.settings.get('system'), {
    doc: 'The value of the `system` setting, e.g. `"x86_64-linux"`.',
  });
  r.value('currentTime', Math.floor(Date.now() / 1000), { doc: 'Return the Unix time at the moment of evaluation.' });
  r.value('storeDir', state.store.storeDir, { doc: 'The logical store directory, e.g. `/nix/store`.' });

}

function ioError(e: unknown, file: string, pos: Pos | null = null): NixError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new NixError(`path '${file}' does not exist`, pos);
  if (code === 'EISDIR') return new NixError(`reading file '${file}': Is a directory`, pos);
  return new NixError(`cannot access '${file}': ${(e as Error).message}`, pos);
}

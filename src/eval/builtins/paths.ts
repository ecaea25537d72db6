// Files, paths, imports and the environment: import, scopedImport, readFile,
// readDir, readFileType, pathExists, getEnv, toPath, baseNameOf, dirOf,
// findFile, nixPath, storeDir, currentSystem, currentTime, langVersion,
// nixVersion.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromBytes, toBytes } from '../../../grammar/errors.js';
import { canonPath } from '../compile.js';
import { NixError, ThrownError } from '../errors.js';
import { coerceToString, forceAttrs, forceList, forceString, forceStringValue } from '../ops.js';
import { Attrs, NixPath, NixStr, force, mkStr, type Value } from '../value.js';
import type { EvalState } from '../state.js';
import type { Pos } from '../../../grammar/ast.js';
import { argCtx, type Registry } from './registry.js';

/** tsnix's own Nix files for `<nix/…>` (corepkgs/ at the top of the package). */
const COREPKGS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../corepkgs');

/** The version of CppNix whose behaviour tsnix follows (nixpkgs checks it). */
export const NIX_VERSION = '2.31.0';

/** Coerces a value to an absolute path (a path, or a string that is one). */
export function realisePath(state: EvalState, v: Value, pos: Pos | null, ctx: string): string {
  const fv = force(v);
  if (fv instanceof NixPath) return fv.path;
  const r = coerceToString(fv, pos, { errCtx: ctx });
  if (!r.s.startsWith('/')) {
    throw new NixError(`string '${r.s}' doesn't represent an absolute path`, null).addTrace(ctx, pos);
  }
  void state;
  return canonPath(r.s);
}

function fsPath(p: string): string {
  return fromBytes(p);
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
      const file = realisePath(state, p!, site.pos, 'while evaluating the first argument passed to builtins.import');
      return state.evalFile(file, site.pos);
    },
  });

  r.add({
    name: 'scopedImport',
    args: ['scope', 'path'],
    global: true,
    doc: 'Like `import`, but the expression in *path* sees the attributes of *scope* as variables (taking precedence over builtins).',
    fn: ([sc, p], site) => {
      const scope = forceAttrs(sc!, site.pos, argCtx('scopedImport', 0));
      const file = realisePath(state, p!, site.pos, argCtx('scopedImport', 1));
      return state.evalFileScoped(file, scope, site.pos);
    },
  });

  r.add({
    name: 'readFile',
    args: ['path'],
    doc: 'Return the contents of the file *path* as a string.',
    fn: ([p], site) => {
      const file = realisePath(state, p!, site.pos, argCtx('readFile', 0));
      try {
        const s = fs.readFileSync(fsPath(file)).toString('latin1');
        if (s.includes('\0')) {
          throw new NixError(`the contents of the file '${file}' cannot be represented as a Nix string`, site.pos);
        }
        return s;
      } catch (e) {
        if (e instanceof NixError) throw e;
        throw ioError(e, file, site.pos);
      }
    },
  });

  r.add({
    name: 'readDir',
    args: ['path'],
    doc: 'Return the contents of the directory *path* as a set mapping directory entries to the corresponding file type. For instance, if directory `A` contains a regular file `B` and another directory `C`, then `builtins.readDir ./A` returns the set\n\n```nix\n{ B = "regular"; C = "directory"; }\n```\n\nThe possible values for the file type are `"regular"`, `"directory"`, `"symlink"` and `"unknown"`.',
    fn: ([p], site) => {
      const dir = realisePath(state, p!, site.pos, argCtx('readDir', 0));
      let ents: fs.Dirent[];
      try {
        ents = fs.readdirSync(fsPath(dir), { withFileTypes: true });
      } catch (e) {
        throw ioError(e, dir, site.pos);
      }
      const m = new Map<string, Value>();
      for (const d of ents.sort((a, b) => (a.name < b.name ? -1 : 1))) {
        const t = d.isDirectory() ? 'directory' : d.isFile() ? 'regular' : d.isSymbolicLink() ? 'symlink' : 'unknown';
        m.set(toBytes(d.name), t);
      }
      return new Attrs(m);
    },
  });

  r.add({
    name: 'readFileType',
    args: ['p'],
    doc: 'Determine the directory entry type of a filesystem node, being one of `"directory"`, `"regular"`, `"symlink"`, or `"unknown"`.',
    fn: ([p], site) => {
      const file = realisePath(state, p!, site.pos, argCtx('readFileType', 0));
      try {
        return fileType(fs.lstatSync(fsPath(file)));
      } catch (e) {
        throw ioError(e, file, site.pos);
      }
    },
  });

  r.add({
    name: 'pathExists',
    args: ['path'],
    doc: 'Return `true` if the path *path* exists at evaluation time, and `false` otherwise.',
    fn: ([p], site) => {
      const v = force(p!);
      let file: string;
      let mustBeDir = false;
      if (v instanceof NixPath) file = v.path;
      else {
        const s = coerceToString(v, site.pos, {}).s;
        if (!s.startsWith('/')) {
          throw new NixError(`string '${s}' doesn't represent an absolute path`, site.pos).addTrace(argCtx('pathExists', 0));
        }
        mustBeDir = s.endsWith('/') || s.endsWith('/.');
        file = canonPath(s);
      }
      try {
        const st = fs.statSync(fsPath(file));
        return mustBeDir ? st.isDirectory() : true;
      } catch {
        return false;
      }
    },
  });

  r.add({
    name: 'getEnv',
    args: ['s'],
    doc: '`getEnv` returns the value of the environment variable *s*, or an empty string if the variable doesn’t exist. This function should be used with care, as it can introduce all sorts of nasty environment dependencies in your Nix expression.',
    fn: ([s], site) => {
      const name = forceString(s!, site.pos, argCtx('getEnv', 0));
      if (state.settings.bool('pure-eval')) return '';
      const v = state.env[fromBytes(name)];
      return v === undefined ? '' : toBytes(v);
    },
  });

  r.add({
    name: 'toPath',
    args: ['s'],
    doc: '**DEPRECATED.** Use `/. + "/path"` to convert a string into an absolute path. For relative paths, use `./. + "/path"`.',
    fn: ([s], site) => {
      const v = force(s!);
      const r0 = coerceToString(v, site.pos, {});
      if (!r0.s.startsWith('/')) {
        throw new NixError(`string '${r0.s}' doesn't represent an absolute path`, site.pos).addTrace(argCtx('toPath', 0));
      }
      return mkStr(canonPath(r0.s), r0.ctx);
    },
  });

  r.add({
    name: 'baseNameOf',
    args: ['x'],
    global: true,
    doc: 'Return the *base name* of either a path value *x* or a string *x*, depending on which type is passed, and according to the following rules.\n\nFor a path value, the *base name* is considered to be the part of the path after the last directory separator, including any file extensions.\n\nFor a string, the *base name* is considered to be the part of the string after the last directory separator (ignoring a trailing one).',
    fn: ([x], site) => {
      const v = force(x!);
      if (v instanceof NixPath) return v.path.slice(v.path.lastIndexOf('/') + 1);
      const r0 = coerceToString(v, site.pos, { errCtx: argCtx('baseNameOf', 0) });
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
    fn: ([x], site) => {
      const v = force(x!);
      if (v instanceof NixPath) {
        const i = v.path.lastIndexOf('/');
        return new NixPath(i <= 0 ? '/' : v.path.slice(0, i));
      }
      const r0 = coerceToString(v, site.pos, { errCtx: argCtx('dirOf', 0) });
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
      const list = forceList(sp!, site.pos, argCtx('findFile', 0));
      const want = forceString(p!, site.pos, argCtx('findFile', 1));
      for (const el of list) {
        const a = forceAttrs(el, site.pos, 'while evaluating an element of the list passed to builtins.findFile');
        const pv = a.get('path');
        if (pv === undefined) throw new NixError("attribute 'path' missing", site.pos);
        const prefixV = a.get('prefix');
        const prefix = prefixV === undefined ? '' : forceString(prefixV, site.pos);
        const base = coerceToString(pv, site.pos, {}).s;
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
      if (want.startsWith('nix/')) {
        const f = path.join(COREPKGS, fromBytes(want.slice(4)));
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

  void forceStringValue;
  void NixStr;
}

function ioError(e: unknown, file: string, pos: Pos | null): NixError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new NixError(`path '${file}' does not exist`, pos);
  if (code === 'EISDIR') return new NixError(`reading file '${file}': Is a directory`, pos);
  return new NixError(`cannot access '${file}': ${(e as Error).message}`, pos);
}

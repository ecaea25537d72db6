// The evaluator's side of the store: derivationStrict and the `derivation`
// wrapper, toFile, builtins.path, filterSource, placeholder, storePath, path
// interpolation, against the CppNix 2.8 vectors of ../shared/vectors
// (derivations.json, tofile.json, store-dir.json): every drvPath, outPath and
// .drv text must be byte-identical.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { toBytes } from '../../grammar/errors.js';
import { DERIVATION_ORIGIN } from '../../src/eval/builtins/derivation.js';
import { NixError, renderError } from '../../src/eval/errors.js';
import { forceAttrs, forceDeep } from '../../src/eval/ops.js';
import { Settings } from '../../src/eval/settings.js';
import { EvalState, storeDirFromEnv } from '../../src/eval/state.js';
import { NixStr, force, type Value } from '../../src/eval/value.js';
import { ComputeStore } from '../../src/store/compute-store.js';
import { derivationToJson, printDerivation } from '../../src/store/derivation.js';
import { parseHash } from '../../src/store/hash.js';
import { createTree, type TreeDesc } from '../store/tree-helpers.js';
import { bytes, loadVectors, unicode } from '../store/vectors.js';

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnix-drv-test-'));
afterAll(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));
let dirCount = 0;

/** A fresh directory holding `files` (relative name -> UTF-8 contents). */
function scratchDir(files: Record<string, string> = {}): string {
  const dir = path.join(tmpRoot, String(dirCount++));
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, contents] of Object.entries(files)) {
    const p = path.join(dir, name);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, contents, { mode: 0o644 });
  }
  return dir;
}

interface StateOpts {
  features?: string;
  storeDir?: string;
  stderr?: string[];
}

function mkState(o: StateOpts = {}): EvalState {
  const settings = new Settings();
  if (o.features) settings.set('experimental-features', o.features, 'test');
  settings.set('show-trace', 'true', 'test');
  const env: NodeJS.ProcessEnv = { HOME: '/fake-home' };
  if (o.storeDir) env.TSNIX_STORE_DIR = o.storeDir;
  const sink = o.stderr;
  return new EvalState({ settings, env, stderr: (s) => sink?.push(s) });
}

/** Evaluates the UTF-8 expression `text` as if it were in `dir`. */
function evalIn(state: EvalState, text: string, dir = '/'): Value {
  return state.evalString(bytes(text), toBytes('«string»'), toBytes(dir));
}

function str(v: Value): string {
  const f = force(v);
  if (typeof f === 'string') return f;
  if (f instanceof NixStr) return f.s;
  throw new Error(`not a string: ${String(f)}`);
}

function ctxOf(v: Value): string[] {
  const f = force(v);
  return f instanceof NixStr ? [...f.ctx].sort() : [];
}

function attr(v: Value, name: string): Value {
  const a = forceAttrs(v);
  const x = a.get(name);
  if (x === undefined) throw new Error(`no attribute ${name}`);
  return force(x);
}

/** The error of evaluating `text`, rendered with its trace (UTF-8). */
function errorOf(text: string, state = mkState(), dir = '/'): string {
  try {
    forceDeep(evalIn(state, text, dir));
  } catch (e) {
    if (e instanceof NixError) return unicode(renderError(e, true));
    throw e;
  }
  throw new Error(`no error from: ${text}`);
}

// ---------------------------------------------------------------- ComputeStore (nar.json)

interface NarVector {
  name: string;
  tree: TreeDesc;
  nix_hash_sha256_base32: string;
  nar_size: number;
  store_path_add: string;
  store_path_add_fixed_recursive_sha1: string;
  store_path_add_fixed_flat_sha256?: string;
  store_path_add_fixed_flat_md5?: string;
  store_path_add_fixed_flat_sha512?: string;
}

describe('ComputeStore.addPath (nar.json)', () => {
  const vf = loadVectors<NarVector>('nar.json');
  for (const v of vf.vectors) {
    it(v.name, () => {
      const dir = scratchDir();
      const p = path.join(dir, v.name);
      createTree(Buffer.from(p), v.tree);
      const src = toBytes(p);
      const store = new ComputeStore();
      const added = store.addPath(src, { name: v.name, method: 'recursive' });
      expect(added.path).toBe(v.store_path_add);
      expect(added.narHash.toNix32()).toBe(v.nix_hash_sha256_base32);
      expect(added.narSize).toBe(v.nar_size);
      expect(store.isValidPath(v.store_path_add)).toBe(true);
      expect(store.addPath(src, { name: v.name, method: 'recursive', hashAlgo: 'sha1' }).path).toBe(
        v.store_path_add_fixed_recursive_sha1,
      );
      if (v.store_path_add_fixed_flat_sha256) {
        const flat = (algo: 'sha256' | 'md5' | 'sha512') =>
          store.addPath(src, { name: v.name, method: 'flat', hashAlgo: algo }).path;
        expect(flat('sha256')).toBe(v.store_path_add_fixed_flat_sha256);
        expect(flat('md5')).toBe(v.store_path_add_fixed_flat_md5);
        expect(flat('sha512')).toBe(v.store_path_add_fixed_flat_sha512);
      } else if (v.tree.type !== 'regular') {
        expect(() => store.addPath(src, { name: v.name, method: 'flat' })).toThrow(/not a regular file/);
      }
      const wrong = parseHash('sha256:' + '0'.repeat(52));
      expect(() => store.addPath(src, { name: v.name, method: 'recursive', expectedHash: wrong })).toThrow(
        /hash mismatch importing path/,
      );
    });
  }

  it('a filter leaves entries out, and is called once per entry', () => {
    const dir = scratchDir({ 't/a': 'A\n', 't/b': 'B\n', 't/sub/c': 'C\n' });
    const store = new ComputeStore();
    const seen: string[] = [];
    const filtered = store.addPath(toBytes(path.join(dir, 't')), {
      name: 't',
      method: 'recursive',
      filter: (p, t) => (seen.push(`${path.basename(p)}:${t}`), !p.endsWith('/b')),
    });
    expect(seen.sort()).toEqual(['a:regular', 'b:regular', 'c:regular', 'sub:directory']);
    fs.rmSync(path.join(dir, 't/b'));
    expect(store.addPath(toBytes(path.join(dir, 't')), { name: 't', method: 'recursive' }).path).toBe(filtered.path);
  });
});

// ---------------------------------------------------------------- derivations.json

interface DrvVector {
  id: string;
  description: string;
  expression: string;
  files_next_to_expression?: Record<string, string>;
  drvPath: string;
  outputs: Record<string, string>;
  drv_text: string;
  show_derivation: Record<string, Record<string, unknown>>;
  closure_input_drv_texts: Record<string, string>;
}

describe('derivations.json (CppNix 2.8 .drv files)', () => {
  const vf = loadVectors<DrvVector>('derivations.json');
  it('has the vectors', () => expect(vf.vectors.length).toBe(42));

  for (const v of vf.vectors) {
    it(`${v.id}: ${v.description}`, () => {
      const dir = scratchDir(v.files_next_to_expression);
      fs.writeFileSync(path.join(dir, 'expr.nix'), v.expression);
      const state = mkState({ features: v.id === 'ca-floating' ? 'ca-derivations' : undefined });
      const d = state.evalFile(toBytes(path.join(dir, 'expr.nix')));
      const drvPath = str(attr(d, 'drvPath'));
      expect(drvPath).toBe(v.drvPath);
      expect(ctxOf(attr(d, 'drvPath'))).toEqual([`=${v.drvPath}`]);
      for (const [o, p] of Object.entries(v.outputs)) {
        const outPath = attr(attr(d, o), 'outPath');
        expect(str(outPath), `output ${o}`).toBe(bytes(p));
        expect(ctxOf(outPath)).toEqual([`!${o}!${v.drvPath}`]);
      }
      const drv = state.store.readDerivation(drvPath);
      expect(unicode(printDerivation(drv))).toBe(v.drv_text);
      expect(derivationToJson(drv)).toEqual(v.show_derivation[v.drvPath]);
      // The input derivations were computed along the way, byte-identical too.
      for (const [p, text] of Object.entries(v.closure_input_drv_texts)) {
        expect(unicode(printDerivation(state.store.readDerivation(p))), p).toBe(text);
      }
    });
  }
});

// ---------------------------------------------------------------- tofile.json

interface ToFileVector {
  description: string;
  expression: string;
  path: string;
  contents: string;
  references: string[];
}

describe('tofile.json (builtins.toFile)', () => {
  const vf = loadVectors<ToFileVector>('tofile.json');
  for (const v of vf.vectors) {
    it(v.description, () => {
      const dir = scratchDir({ 'data.txt': 'some data\n' });
      const state = mkState();
      const r = evalIn(state, v.expression, dir);
      expect(str(r)).toBe(bytes(v.path));
      expect(ctxOf(r)).toEqual([bytes(v.path)]);
      const store = state.store as ComputeStore;
      expect(store.queryReferences(bytes(v.path))).toEqual(v.references);
    });
  }
  const errors = vf.errors as { description: string; expression: string; stderr: string }[];
  for (const e of errors) {
    it(`error: ${e.description}`, () => {
      // 2.8 renders "error: MSG\n\n       at …"; the message itself is what must agree.
      const want = e.stderr.slice('error: '.length, e.stderr.indexOf('\n'));
      expect(errorOf(e.expression)).toContain(`error: ${want}`);
    });
  }
});

// ---------------------------------------------------------------- store-dir.json

interface StoreDirVector {
  id: string;
  expression: string;
  result: string | Record<string, string>;
}

describe('store-dir.json (TSNIX_STORE_DIR=/tsnix-test/store)', () => {
  const vf = loadVectors<StoreDirVector>('store-dir.json');
  it('storeDirFromEnv follows TSNIX_STORE_DIR, else /nix/store (as the local store does)', () => {
    expect(storeDirFromEnv({ TSNIX_STORE_DIR: '/a/', NIX_STORE_DIR: '/b' })).toBe('/a');
    expect(storeDirFromEnv({ NIX_STORE_DIR: '/b/' })).toBe('/nix/store');
    expect(storeDirFromEnv({})).toBe('/nix/store');
  });
  for (const v of vf.vectors) {
    it(`${v.id}: ${v.expression.slice(0, 60)}`, () => {
      const dir = scratchDir({ 'data.txt': 'some data\n' });
      const state = mkState({ storeDir: '/tsnix-test/store' });
      expect(state.store.storeDir).toBe('/tsnix-test/store');
      const r = forceDeep(evalIn(state, v.expression, dir));
      if (typeof v.result === 'string') {
        expect(str(r)).toBe(v.result);
      } else {
        for (const [k, p] of Object.entries(v.result)) expect(str(attr(r, k)), k).toBe(p);
      }
    });
  }
});

// ---------------------------------------------------------------- the wrapper

describe('derivation (the wrapper)', () => {
  const base = 'name = "x"; system = "x"; builder = "/bin/sh";';

  it('has the attributes CppNix gives', () => {
    const names = (text: string) => forceAttrs(forceDeep(evalIn(mkState(), text))).keys();
    expect(names(`derivation { ${base} }`)).toEqual([
      'all', 'builder', 'drvAttrs', 'drvPath', 'name', 'out', 'outPath', 'outputName', 'system', 'type',
    ]);
    expect(names(`(derivation { ${base} outputs = [ "out" "dev" ]; }).dev`)).toEqual([
      'all', 'builder', 'dev', 'drvAttrs', 'drvPath', 'name', 'out', 'outPath', 'outputName', 'outputs', 'system',
      'type',
    ]);
  });

  it('gives outputs, all, outputName, drvAttrs, == as CppNix', () => {
    const v = forceDeep(
      evalIn(
        mkState(),
        `let d = derivation { ${base} outputs = [ "out" "dev" ]; }; in [
           d.outputName d.dev.outputName d.out.outputName (map (x: x.outputName) d.all)
           (builtins.attrNames d.drvAttrs) (d.dev.dev == d.dev) (d == d.out) (d == d.dev)
           d.type (d.outPath == d.out.outPath) (d.drvPath == d.dev.drvPath)
           (builtins.derivation == derivation)
         ]`,
      ),
    );
    const show = (x: Value): unknown => {
      const f = force(x);
      if (Array.isArray(f)) return f.map(show);
      return typeof f === 'string' || typeof f === 'boolean' ? f : str(f);
    };
    expect(show(v)).toEqual([
      'out', 'dev', 'out', ['out', 'dev'], ['builder', 'name', 'outputs', 'system'], true, true, false,
      'derivation', true, true, false,
    ]);
  });

  it('is lazy: nothing is checked before a path is needed', () => {
    expect(str(evalIn(mkState(), 'let d = derivation { name = "x"; }; in d.name'))).toBe('x');
  });

  it('keeps derivationStrict and the output sets on the lines CppNix traces show', () => {
    const e = errorOf(`derivation { name = "~x"; system = "x"; builder = "/bin/sh"; }`);
    const origin = unicode(DERIVATION_ORIGIN);
    expect(e).toContain(`… while calling the 'derivationStrict' builtin\n         at ${origin}:36:12:`);
    expect(e).toContain('   36|   strict = derivationStrict drvAttrs;');
    expect(e).toContain(`at ${origin}:49:17:`);
    expect(e).toContain('   48|     value = commonAttrs // {\n           49|       outPath = strict.${outputName};');
    expect(e).toContain(
      "error: invalid derivation name: name '~x' contains illegal character '~'. Please pass a different 'name'.",
    );
  });

  // `derivation` runs the usual case (outputs: distinct plain strings) natively from
  // the compiled parts of derivation-internal.nix, anything else through its Nix body.
  it('gives the positions of derivation-internal.nix to the attributes it adds', () => {
    const pos = (attr: string, extra = '') => {
      const v = forceDeep(evalIn(mkState(), `builtins.unsafeGetAttrPos "${attr}" (derivation { ${base} ${extra} })`));
      const a = forceAttrs(v);
      return `${unicode(str(a.get('file')!))}:${force(a.get('line')!)}:${force(a.get('column')!)}`;
    };
    const origin = unicode(DERIVATION_ORIGIN);
    expect(pos('outPath')).toBe(`${origin}:49:7`);
    expect(pos('drvPath')).toBe(`${origin}:50:7`);
    expect(pos('type')).toBe(`${origin}:51:7`);
    expect(pos('outputName')).toBe(`${origin}:52:15`);
    expect(pos('all')).toBe(`${origin}:43:5`);
    expect(pos('drvAttrs')).toBe(`${origin}:44:13`);
    // an output's set is where listToAttrs found it: the `value` of its element
    expect(pos('dev', 'outputs = [ "out" "dev" ];')).toBe(`${origin}:39:32`);
    expect(pos('name')).toMatch(/«string»:1:\d+$/);
    // (drvAttrs' own names keep their positions whatever the outputs, also once
    // attrNames has flattened the set)
    expect(pos('name', 'outputs = [ "out" "dev" ];')).toMatch(/«string»:1:\d+$/);
    const flat = forceDeep(
      evalIn(mkState(), `let d = derivation { ${base} outputs = [ "out" "dev" ]; }; in builtins.seq (builtins.attrNames d) (builtins.unsafeGetAttrPos "name" d).file`),
    );
    expect(unicode(str(flat))).toBe('«string»');
    // outputs named like an attribute the wrapper adds: the Nix body's sets, same positions
    expect(pos('name', 'outputs = [ "out" "type" ];')).toMatch(/«string»:1:\d+$/);
    expect(pos('out', 'outputs = [ "out" "type" ];')).toBe(`${origin}:39:32`);
    expect(pos('type', 'outputs = [ "out" "type" ];')).toBe(`${origin}:51:7`);
  });

  it('gives every output the attributes of commonAttrs // { … }, outputs named like them too', () => {
    const names = (expr: string) => forceDeep(evalIn(mkState(), `builtins.attrNames (${expr})`)) as Value[];
    const plain = (v: Value[]) => v.map((x) => str(x));
    const own = ['all', 'drvAttrs', 'drvPath', 'outPath', 'outputName', 'type'];
    expect(plain(names(`derivation { ${base} outputs = [ "out" "dev" ]; }`))).toEqual(
      [...own, 'builder', 'dev', 'name', 'out', 'outputs', 'system'].sort(),
    );
    expect(plain(names(`(derivation { ${base} outputs = [ "out" "dev" ]; }).dev`))).toEqual(
      [...own, 'builder', 'dev', 'name', 'out', 'outputs', 'system'].sort(),
    );
    // an output called `type` is hidden by type = "derivation", as in the Nix code
    const v = forceDeep(evalIn(mkState(), `let d = derivation { ${base} outputs = [ "out" "type" ]; }; in [ d.type d.outputName (builtins.length d.all) ]`)) as Value[];
    expect(v.map((x) => force(x))).toEqual(['derivation', 'out', 2]);
    // one set per output, shared: d.dev.out is d, d.all holds the same sets
    const same = forceDeep(
      evalIn(mkState(), `let d = derivation { ${base} outputs = [ "out" "dev" ]; }; in [ (d.dev.out.outputName) (builtins.elemAt d.all 1).outputName d.drvAttrs.name ]`),
    ) as Value[];
    expect(same.map((x) => str(x))).toEqual(['out', 'dev', 'x']);
  });

  it('forces outPath and drvPath first under --strict, as CppNix does', () => {
    // (CppNix walks a set in the order of its symbols: outPath and drvPath before any of drvAttrs')
    const e = errorOf(`derivation { ${base} aaa = throw "boom"; }`);
    expect(e).toMatch(/^error:\n {7}… while evaluating the attribute 'outPath'\n/);
    expect(e).toContain('error: boom');
  });

  it('reports unusual outputs through the Nix body', () => {
    expect(errorOf(`derivation { ${base} outputs = [ ]; }`)).toContain(
      `… while evaluating an attribute name\n         at ${unicode(DERIVATION_ORIGIN)}:57:14:`,
    );
    for (const outputs of ['"out"', '[ 1 ]', '[ (throw "boom") ]']) {
      expect(errorOf(`derivation { ${base} outputs = ${outputs}; }`)).toContain(
        `… while calling the 'listToAttrs' builtin\n         at ${unicode(DERIVATION_ORIGIN)}:38:16:`,
      );
    }
    // duplicates: the first one wins in outputSets, `all` has both
    const all = forceDeep(evalIn(mkState(), `map (x: x.outputName) (derivation { ${base} outputs = [ "out" "out" ]; }).all`));
    expect((all as Value[]).map((x) => force(x))).toEqual(['out', 'out']);
  });
});

// ---------------------------------------------------------------- derivationStrict details

describe('derivationStrict', () => {
  const strict = (attrs: string, o: StateOpts = {}) => {
    const state = mkState(o);
    const r = forceDeep(evalIn(state, `builtins.derivationStrict { ${attrs} }`, scratchDir({ f: 'F\n' })));
    const drvPath = str(attr(r, 'drvPath'));
    return { r, drvPath, drv: state.store.readDerivation(drvPath), state };
  };
  const base = 'name = "foo"; system = "x86_64-linux"; builder = "/bin/sh";';

  it('reproduces the spec example myName-aarch64', () => {
    const { drvPath, r } = strict(
      'name = "myName"; system = "aarch64-linux"; builder = "/bin/sh"; args = [ "-c" "echo RUNNING >&2 && echo $message > $out" ]; message = "goodbye";',
    );
    expect(drvPath).toBe('/nix/store/xh3q9dd1r0nk87kyj2pqf9kscvqsip80-myName.drv');
    expect(str(attr(r, 'out'))).toBe('/nix/store/l56ckxgxa4x50n3v4bamvdrrbqjyl7zm-myName');
  });

  it('coerces floats like std::to_string, also past 1e21', () => {
    const { drv } = strict(`${base} a = 1.0e21; b = -2.5; c = 0.0000001;`);
    expect(drv.env.get('a')).toBe('1000000000000000000000.000000');
    expect(drv.env.get('b')).toBe('-2.500000');
    expect(drv.env.get('c')).toBe('0.000000');
  });

  it('__ignoreNulls drops null attributes but not null list elements', () => {
    const { drv } = strict(`${base} __ignoreNulls = true; n = null; l = [ null "a" ];`);
    expect(drv.env.has('n')).toBe(false);
    expect(drv.env.has('__ignoreNulls')).toBe(false);
    expect(drv.env.get('l')).toBe(' a');
  });

  it('structured attrs: __json with sorted keys, outputs in env, warnings for legacy checks', () => {
    const stderr: string[] = [];
    const { drv } = strict(`${base} __structuredAttrs = true; z = 1; a = [ ./f ]; allowedReferences = [ ];`, {
      stderr,
    });
    const json = drv.env.get('__json')!;
    expect(Object.keys(JSON.parse(json) as object)).toEqual([
      'a', 'allowedReferences', 'builder', 'name', 'system', 'z',
    ]);
    expect(drv.env.get('out')).toMatch(/^\/nix\/store\/[a-z0-9]{32}-foo$/);
    expect([...drv.env.keys()].sort()).toEqual(['__json', 'out']);
    expect(drv.inputSrcs.size).toBe(1);
    expect(stderr.join('')).toContain(
      "warning: 'structuredAttrs' disables the effect of the derivation attribute 'allowedReferences'; use 'outputChecks.<output>.allowedReferences' instead",
    );
  });

  it('fixed-output: every algorithm and format gives ("out", path, [r:]algo, base16)', () => {
    const hex = '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824';
    const a = strict(`${base} outputHashAlgo = "sha256"; outputHash = "${hex}";`).drv.outputs.get('out')!;
    const b = strict(`${base} outputHash = "sha256-LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=";`).drv.outputs.get('out')!;
    expect(a).toEqual(b);
    expect(a.hashAlgo).toBe('sha256');
    expect(a.hash).toBe(hex);
    const r = strict(`${base} outputHashMode = "recursive"; outputHash = "sha1:${'0'.repeat(32)}";`);
    expect(r.drv.outputs.get('out')!.hashAlgo).toBe('r:sha1');
    expect(r.drv.env.get('outputHash')).toBe(`sha1:${'0'.repeat(32)}`);
  });

  it('ca-derivations: floating outputs with placeholders', () => {
    const { drv, r, drvPath } = strict(`${base} __contentAddressed = true; outputs = [ "out" "dev" ];`, {
      features: 'ca-derivations',
    });
    expect(drv.outputs.get('dev')).toEqual({ path: '', hashAlgo: 'r:sha256' });
    expect(drv.env.get('dev')).toBe('/02qcpld1y6xhs5gz9bchpxaw0xdhmsp5dv88lh25r2ss44kh8dxz');
    expect(str(attr(r, 'dev'))).toMatch(/^\/[a-z0-9]{52}$/);
    expect(ctxOf(attr(r, 'dev'))).toEqual([`!dev!${drvPath}`]);
    expect(errorOf(`builtins.derivationStrict { ${base} __contentAddressed = true; }`)).toContain(
      "error: experimental Nix feature 'ca-derivations' is disabled; add '--extra-experimental-features ca-derivations' to enable it",
    );
  });

  it('outputOf: the placeholder of a derivation output, as CppNix 2.8 gives a floating CA output', () => {
    // expected values from nix-instantiate 2.8 (ca-derivations): the outPaths of this derivation
    const ca = 'derivation { name = "ca"; system = "x86_64-linux"; builder = "/bin/sh"; __contentAddressed = true; outputs = [ "out" "dev" ]; }';
    const st = mkState({ features: 'ca-derivations dynamic-derivations' });
    const p = `(builtins.unsafeDiscardOutputDependency (${ca}).drvPath)`;
    expect(str(evalIn(st, `(${ca}).drvPath`))).toBe('/nix/store/sygnqnvpgr86b6w9i3sigqwkz8y13fld-ca.drv');
    const out = evalIn(st, `builtins.outputOf ${p} "out"`);
    expect(str(out)).toBe('/1wd5dl3qbw3fjv2nspl5lg92lxzwgkv1n2ggzgd70vk3bxbab755');
    expect(ctxOf(out)).toEqual(['!out!/nix/store/sygnqnvpgr86b6w9i3sigqwkz8y13fld-ca.drv']);
    expect(str(evalIn(st, `builtins.outputOf ${p} "dev"`))).toBe('/19s9vml34nwg526z8s87mp48qj3i5cri6n3bl10mff5qsmaizq74');
    expect(force(evalIn(st, `builtins.outputOf ${p} "dev" == (${ca}).dev.outPath`))).toBe(true);
    // an input-addressed derivation's output is a placeholder too (its path is not looked at)
    const ia = mkState({ features: 'dynamic-derivations' });
    expect(str(evalIn(ia, `builtins.outputOf (builtins.unsafeDiscardOutputDependency (derivation { ${base} }).drvPath) "out"`))).toMatch(/^\/[0-9a-z]{52}$/);
    // errors
    expect(errorOf(`builtins.outputOf ${p} "out"`, mkState({ features: 'ca-derivations' }))).toContain(
      "error: experimental Nix feature 'dynamic-derivations' is disabled",
    );
    expect(errorOf('builtins.outputOf "/nix/store/sygnqnvpgr86b6w9i3sigqwkz8y13fld-ca.drv" "out"', ia)).toContain(
      "error: string '/nix/store/sygnqnvpgr86b6w9i3sigqwkz8y13fld-ca.drv' has no context",
    );
    expect(errorOf(`builtins.outputOf (${ca}).drvPath "out"`, st)).toContain('has a context which refers to a complete source and binary closure');
    expect(errorOf(`builtins.outputOf (${p} + "x") "out"`, st)).toContain('has context with the different path');
    expect(errorOf(`builtins.outputOf (builtins.outputOf ${p} "out") "out"`, st)).toContain('is not implemented in tsnix yet');
  });

  const errs: [string, string, string][] = [
    ['missing name', 'builtins.derivationStrict { }', "error: attribute 'name' missing"],
    ['missing builder', 'builtins.derivationStrict { name = "foo"; }', "error: required attribute 'builder' missing"],
    [
      'missing system',
      'builtins.derivationStrict { name = "foo"; builder = "/bin/sh"; }',
      "error: required attribute 'system' missing",
    ],
    [
      'name ending in .drv',
      `builtins.derivationStrict { name = "foo.drv"; system = "x"; builder = "/bin/sh"; }`,
      "error: derivation names are not allowed to end in '.drv'",
    ],
    [
      'bad outputHash length',
      `builtins.derivationStrict { ${base} outputHashAlgo = "sha256"; outputHash = "abc"; }`,
      "error: hash 'abc' has wrong length for hash type 'sha256'",
    ],
    [
      'unknown hash algorithm',
      `builtins.derivationStrict { ${base} outputHashAlgo = "sha3"; outputHash = "abc"; }`,
      "error: unknown hash algorithm 'sha3'",
    ],
    [
      'bad output name',
      `builtins.derivationStrict { ${base} outputs = [ "out" "drvPath" ]; }`,
      "error: invalid derivation output name 'drvPath'",
    ],
    [
      'duplicate output',
      `builtins.derivationStrict { ${base} outputs = "out out"; }`,
      "error: duplicate derivation output 'out'",
    ],
    ['empty outputs', `builtins.derivationStrict { ${base} outputs = [ ]; }`, 'error: derivation cannot have an empty set of outputs'],
    [
      'fixed-output with two outputs',
      `builtins.derivationStrict { ${base} outputs = [ "out" "dev" ]; outputHash = "sha256-LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="; }`,
      'error: multiple outputs are not supported in fixed-output derivations',
    ],
    [
      'bad outputHashMode',
      `builtins.derivationStrict { ${base} outputHashMode = "custom"; }`,
      "error: invalid value 'custom' for 'outputHashMode' attribute",
    ],
  ];
  for (const [what, expr, msg] of errs) {
    it(`error: ${what}`, () => {
      const e = errorOf(expr);
      expect(e).toContain(msg);
      if (what !== 'missing name') {
        expect(e).toContain("… while evaluating derivation 'foo");
        expect(e).toContain('whose name attribute is located at «string»:1:');
      }
    });
  }

  it('names the attribute whose value cannot be coerced', () => {
    const e = errorOf(`builtins.derivationStrict {\n  ${base}\n  FOO = { };\n}`);
    expect(e).toContain("… while evaluating attribute 'FOO' of derivation 'foo'\n         at «string»:3:3:");
    expect(e).toMatch(/error: cannot coerce a set to a string: \{ \}$/);
  });
});

// ---------------------------------------------------------------- other store builtins

describe('store builtins', () => {
  it('placeholder', () => {
    expect(str(evalIn(mkState(), 'builtins.placeholder "out"'))).toBe(
      '/1rz4g4znpzjwh1xymhjpm42vipw92pr73vdgl6xs1hycac8kf2n9',
    );
  });

  it('builtins.path: flat, recursive, filter, sha256, name', () => {
    const dir = scratchDir({ 'data.txt': 'some data\n', 'd/a': 'A\n', 'd/b': 'B\n' });
    const state = mkState();
    const p = (args: string) => str(evalIn(state, `builtins.path { ${args} }`, dir));
    // the source path of derivations.json env-paths
    expect(p('path = ./data.txt;')).toBe('/nix/store/9vk30yyabqnaigh0kqhl9ck55sqg6lz0-data.txt');
    const flat = p('path = ./data.txt; recursive = false;');
    expect(flat).toMatch(/-data\.txt$/);
    expect(flat).not.toBe(p('path = ./data.txt;'));
    const filtered = p('path = ./d; filter = p: t: baseNameOf p != "b";');
    expect(filtered).toBe(p('path = ./d; filter = p: t: baseNameOf p == "a";'));
    expect(filtered).not.toBe(p('path = ./d;'));
    expect(str(evalIn(state, 'builtins.filterSource (p: t: baseNameOf p != "b") ./d', dir))).toBe(filtered);
    expect(p('path = ./d; name = "renamed";')).toMatch(/-renamed$/);
    expect(() => p('path = ./data.txt; sha256 = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";')).toThrow(
      /store path mismatch in \(possibly filtered\) path added from/,
    );
    expect(errorOf('builtins.path { path = ./data.txt; foo = 1; }', state, dir)).toContain(
      "error: unsupported argument 'foo' to 'addPath'",
    );
    expect(errorOf('builtins.path { name = "x"; }', state, dir)).toContain(
      "error: missing required 'path' attribute in the first argument to 'builtins.path'",
    );
  });

  it('path coercion copies once and fails on missing paths', () => {
    const dir = scratchDir({ 'data.txt': 'some data\n' });
    const state = mkState();
    const r = evalIn(state, 'derivation { name = "x"; system = "x"; builder = ./data.txt; }', dir);
    const drv = state.store.readDerivation(str(attr(r, 'drvPath')));
    expect(drv.builder).toBe('/nix/store/9vk30yyabqnaigh0kqhl9ck55sqg6lz0-data.txt');
    expect([...drv.inputSrcs]).toEqual(['/nix/store/9vk30yyabqnaigh0kqhl9ck55sqg6lz0-data.txt']);
    expect(errorOf('derivation { name = "x"; system = "x"; builder = ./nope; }', state, dir)).toContain(
      `error: path '${dir}/nope' does not exist`,
    );
  });

  it('storePath', () => {
    const state = mkState();
    const p = '/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x';
    const r = evalIn(state, `builtins.storePath "${p}/bin"`);
    expect(str(r)).toBe(`${p}/bin`);
    expect(ctxOf(r)).toEqual([p]);
    expect(errorOf('builtins.storePath "/tmp/x"')).toContain("error: path '/tmp/x' is not in the Nix store");
  });

  it('fetchurl and fetchTarball read file:// URLs', () => {
    const dir = scratchDir({ 'hello.txt': 'hello\n', 'src/top/a.txt': 'A\n' });
    const state = mkState();
    const f = evalIn(state, `builtins.fetchurl "file://${dir}/hello.txt"`);
    // a flat sha256 fixed-output path, the one of `nix-store --add-fixed sha256 hello.txt`
    expect(str(f)).toMatch(/^\/nix\/store\/[a-z0-9]{32}-hello\.txt$/);
    expect(str(f)).toBe(str(evalIn(state, `builtins.path { path = ${dir}/hello.txt; recursive = false; }`)));
    const tar = path.join(dir, 'src.tar');
    if (makeTar(dir, tar)) {
      const t = evalIn(state, `builtins.fetchTarball "file://${tar}"`);
      expect(str(t)).toBe(str(evalIn(state, `builtins.path { path = ${dir}/src/top; name = "source"; }`)));
    }
    expect(errorOf('builtins.fetchurl "https://example.com/~wiggle~"')).toContain(
      "invalid store path name when fetching URL 'https://example.com/~wiggle~': name '~wiggle~' contains illegal character '~'.",
    );
    expect(errorOf('builtins.fetchurl "https://example.com/x"')).toContain('only file:// URLs are supported');
  });

  it('builtins.storeDir follows the store', () => {
    expect(str(evalIn(mkState({ storeDir: '/tsnix-test/store' }), 'builtins.storeDir'))).toBe('/tsnix-test/store');
    const state = new EvalState({ store: new ComputeStore('/other/store'), env: {} });
    expect(str(evalIn(state, 'builtins.storeDir'))).toBe('/other/store');
  });
});

/** Makes a tar of dir/src (holding the single directory `top`); false if tar is missing. */
function makeTar(dir: string, tar: string): boolean {
  const r = spawnSync('tar', ['-cf', tar, '-C', path.join(dir, 'src'), 'top']);
  return r.status === 0;
}

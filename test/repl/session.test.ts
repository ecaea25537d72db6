// The REPL's evaluating side: printing, bindings and commands, as `nix repl`
// prints them (CppNix 2.8 checked by hand for the wording).

import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalEngine } from '../../src/repl/engine.js';
import { session, tempEnv, type TempEnv, type Transcript } from './helpers.js';

let t: TempEnv;
let s: Transcript;

beforeEach(() => {
  t = tempEnv();
  s = session(t);
});
afterEach(() => t.cleanup());

describe('printing', () => {
  it('prints values lazily, one level deep', async () => {
    expect(await s.run('1 + 2')).toBe('3\n');
    expect(await s.run('{ a = 1; b = { c = 2; }; l = [ 1 [ 2 ] ]; e = []; }')).toBe('{ a = 1; b = { ... }; e = [ ... ]; l = [ ... ]; }\n');
    expect(await s.run('[ [] {} "x" null true 1.5 ]')).toBe('[ [ ... ] { ... } "x" null true 1.5 ]\n');
    expect(await s.run('"a\\nb${"$"}{x}"')).toBe('"a\\nb\\${x}"\n');
  });

  it('prints functions and builtins', async () => {
    expect(await s.run('x: x')).toBe('«lambda @ «string»:1:1»\n');
    expect(await s.run('builtins.map')).toBe('«primop map»\n');
    expect(await s.run('map (x: x)')).toBe('«partially applied primop map»\n');
    fs.writeFileSync(path.join(t.dir, 'f.nix'), '{\n  f = a: b: a;\n}\n');
    expect(await s.run(`(import ${t.dir}/f.nix).f`)).toBe(`«lambda f @ ${t.dir}/f.nix:2:7»\n`);
  });

  it('prints derivations, repeated values and errors in place', async () => {
    await s.run('d = derivation { name = "foo"; system = "x86_64-linux"; builder = "/bin/sh"; }');
    const drv = await s.run('d.drvPath');
    expect(drv).toMatch(new RegExp(`^"${t.env.TSNIX_STORE_DIR}/[0-9a-z]{32}-foo\\.drv"\\n$`));
    expect(await s.run('d')).toBe(`«derivation ${JSON.parse(drv)}»\n`);
    expect(await s.run('[ d d ]')).toBe(`[ «derivation ${JSON.parse(drv)}» «repeated» ]\n`);
    expect(await s.run('{ type = "derivation"; }')).toBe('«derivation ???»\n');
    expect(await s.run('let a = { x = a; }; in a')).toBe('{ x = { ... }; }\n');
    expect(await s.run(':p let x = { inherit x; y = 1; }; in x')).toBe('{ x = { x = «repeated»; y = 1; }; y = 1; }\n');
    expect(await s.run('{ a = throw "no"; b = let x = x; in x; c = 1; }')).toBe(
      '{ a = «error: no»; b = «error: infinite recursion encountered»; c = 1; }\n',
    );
  });

  it('shows an error of the value itself with its trace', async () => {
    expect(await s.run('throw "x"')).toBe(
      "error:\n       … while calling the 'throw' builtin\n         at «string»:1:1:\n            1| throw \"x\"\n             | ^\n\n       error: x\n",
    );
    expect(await s.run('1 +')).toBe('<incomplete>');
    expect(await s.run('1 + )')).toMatch(/^error: syntax error, unexpected '\)'/);
    expect(await s.run('undefinedVar')).toMatch(/^error: undefined variable 'undefinedVar'\n {7}at «string»:1:1:/);
  });

  it('decodes byte strings for display', async () => {
    expect(await s.run('"é" + "ü"')).toBe('"éü"\n');
    expect(await s.run('builtins.stringLength "é"')).toBe('2\n');
  });

  it('colours values on request', async () => {
    const c = session(t, { color: true });
    expect(await c.run('{ a = 1; b = "s"; c = x: x; d = ./.; e = throw "no"; }')).toBe(
      `{ a = \x1b[36;1m1\x1b[0m; b = \x1b[35;1m"s"\x1b[0m; c = \x1b[34;1m«lambda c @ «string»:1:23»\x1b[0m; d = \x1b[32;1m${t.dir}\x1b[0m; e = \x1b[31;1m«error: no»\x1b[0m; }\n`,
    );
    expect(await c.run('throw "x"')).toMatch(/^\x1b\[31;1merror:\x1b\[0m/);
  });
});

describe('bindings and scope', () => {
  it('binds variables lazily; a new binding does not change older ones', async () => {
    expect(await s.run('x = 1')).toBe('');
    expect(await s.run('y = x + 1')).toBe('');
    expect(await s.run('x = 10')).toBe('');
    expect(await s.run('[ x y ]')).toBe('[ 10 2 ]\n');
    expect(await s.run('  z   =  throw "lazy"  ')).toBe('');
    expect(await s.run('map = 5')).toBe('');
    expect(await s.run('map')).toBe('5\n');
    expect(await s.run('let a = 1; in a')).toBe('1\n');
    expect(await s.run('x == 10')).toBe('true\n');
  });

  it(':a adds the attributes of a set, :l those of a file', async () => {
    expect(await s.run(':a { p = 1; q = 2; }')).toBe('Added 2 variables.\n');
    expect(await s.run('p + q')).toBe('3\n');
    expect(await s.run(':a 1')).toBe('error: expected a set but found an integer: 1\n');
    fs.writeFileSync(path.join(t.dir, 'f.nix'), '{ a = 1; b = 2; }');
    fs.writeFileSync(path.join(t.dir, 'g.nix'), '{ y ? 2, z ? 3 }: { c = y; d = z; }');
    expect(await s.run(':l f.nix')).toBe('Added 2 variables.\n');
    expect(await s.run(':l ./g.nix')).toBe('Added 2 variables.\n');
    expect(await s.run('[ a b c d ]')).toBe('[ 1 2 2 3 ]\n');
    expect(await s.run(':l nothere.nix')).toBe(`error: path '${t.dir}/nothere.nix' does not exist\n`);
  });

  it(':r reloads the files and forgets the bindings', async () => {
    const f = path.join(t.dir, 'f.nix');
    fs.writeFileSync(f, '{ a = 1; }');
    await s.run(':l f.nix');
    await s.run('k = 5');
    fs.writeFileSync(f, '{ a = 2; }');
    expect(await s.run('a')).toBe('1\n');
    expect(await s.run(':r')).toBe("Loading 'f.nix'...\nAdded 1 variables.\n");
    expect(await s.run('a')).toBe('2\n');
    expect(await s.run('k')).toMatch(/^error: undefined variable 'k'/);
  });

  it('loads the files given at start with --arg values', async () => {
    fs.writeFileSync(path.join(t.dir, 'h.nix'), '{ n ? 1, s }: { inherit n s; }');
    const out: string[] = [];
    const e = new LocalEngine(
      { files: ['h.nix'], options: [], searchPath: [], autoArgs: [{ name: 'n', expr: '40 + 2' }, { name: 's', str: 'str' }], color: false, env: t.env, cwd: t.dir },
      { output: (_s, text) => out.push(text) },
    );
    expect(out.join('')).toBe('Added 2 variables.\n');
    out.length = 0;
    await e.run('[ n s ]');
    expect(out.join('')).toBe('[ 42 "str" ]\n');
  });
});

describe('commands', () => {
  it(':? lists every command', async () => {
    const help = await s.run(':?');
    for (const c of [':a', ':b', ':bl', ':e', ':l', ':lf', ':p', ':q', ':r', ':t', ':u', ':s', ':x', ':doc', ':log', ':te', ':?']) {
      expect(help).toMatch(new RegExp(`^  ${c.replace('?', '\\?')}[ ,]`, 'm'));
    }
  });

  it(':t, :p, :te', async () => {
    expect(await s.run(':t 1')).toBe('an integer\n');
    expect(await s.run(':t {}')).toBe('a set\n');
    expect(await s.run(':t x: x')).toBe('a function\n');
    expect(await s.run(':t builtins.map')).toBe("the built-in function 'map'\n");
    expect(await s.run(':t map (x: x)')).toBe("the partially applied built-in function 'map'\n");
    expect(await s.run(':p { a.b.c = [ 1 { } ]; }')).toBe('{ a = { b = { c = [ 1 { } ]; }; }; }\n');
    expect(await s.run(':p "a\\nb"')).toBe('a\nb\n');
    expect(await s.run(':te')).toBe('showing error traces\n');
    expect(await s.run(':te')).toBe('not showing error traces\n');
    expect(await s.run(':te true')).toBe('showing error traces\n');
  });

  it('unsupported and unknown commands are errors, not crashes', async () => {
    expect(await s.run(':foo')).toBe("error: unknown command ':foo'\n");
    expect(await s.run(':lf nixpkgs')).toBe("error: flakes are not supported by tsnix, so ':lf' cannot load 'nixpkgs'\n");
    expect(await s.run(':u 1')).toBe("error: ':u' is not supported by tsnix yet\n");
    expect(await s.run(':s 1')).toBe("error: ':s' is not supported by tsnix yet\n");
    expect(await s.run(':q')).toBe('');
    expect(await s.engine.run(':q')).toEqual({ kind: 'done', quit: true });
  });

  it(':doc documents every builtin function', async () => {
    expect(await s.run(':doc builtins.map')).toBe(
      'Synopsis: builtins.map f list\n\n    Apply the function f to each element in the list list. For example,\n\n      | map (x: "foo" + x) [ "bar" "bla" "abc" ]\n\n    evaluates to [ "foobar" "foobla" "fooabc" ].\n',
    );
    expect(await s.run(':doc map')).toBe(await s.run(':doc builtins.map'));
    expect(await s.run(':doc (x: x)')).toBe('error: value does not have documentation\n');
    expect(await s.run(':doc derivation')).toMatch(/^Synopsis: builtins\.derivation/);
    const names = JSON.parse((await s.run('builtins.toJSON (builtins.filter (n: builtins.isFunction builtins.${n}) (builtins.attrNames builtins))')).trim().slice(1, -1).replace(/\\"/g, '"')) as string[];
    expect(names.length).toBeGreaterThan(100);
    for (const n of names) {
      const d = await s.run(`:doc builtins.${n.includes("'") ? `"${n}"` : n}`);
      expect(d, n).toMatch(new RegExp(`^Synopsis: builtins\\.${n.replace(/'/g, "'")}`));
      expect(d.split('\n').length, n).toBeGreaterThan(2);
    }
  });

  it(':doc shows doc comments of functions', async () => {
    fs.writeFileSync(path.join(t.dir, 'lib.nix'), '{\n  /** Adds one to *x*. */\n  inc = x: x + 1;\n}\n');
    await s.run(':l lib.nix');
    expect(await s.run(':doc inc')).toBe(`Function 'inc'\n    … defined at ${t.dir}/lib.nix:3:9\n\n    Adds one to x.\n`);
  });

  it(':e names the file and line to edit', async () => {
    fs.writeFileSync(path.join(t.dir, 'lib.nix'), '{\n  inc = x: x + 1;\n}\n');
    await s.run(':l lib.nix');
    expect(await s.engine.run(':e inc')).toEqual({ kind: 'done', edit: { file: `${t.dir}/lib.nix`, line: 2 } });
    expect(await s.engine.run(`:e ${t.dir}/lib.nix`)).toEqual({ kind: 'done', edit: { file: `${t.dir}/lib.nix`, line: 0 } });
    expect(await s.run(':e x: x')).toBe("error: '«string»:1:1' cannot be shown in an editor\n");
    expect(await s.run(':e 1')).toBe("error: package '1' has no source location information\n");
  });
});

describe('completion', () => {
  it('completes commands, variables, builtins and attribute paths', async () => {
    expect(s.engine.session.complete(':r', 2)).toEqual({ start: 0, candidates: [':r', ':reload'] });
    expect((await s.engine.complete('builtins.ma', 11)).candidates).toEqual(['builtins.map', 'builtins.mapAttrs', 'builtins.match']);
    await s.run('xs = { foo = { bar = 1; baz = throw "not forced"; }; fob = throw "not forced either"; }');
    expect(await s.engine.complete('1 + xs.f', 8)).toEqual({ start: 4, candidates: ['xs.fob', 'xs.foo'] });
    expect(await s.engine.complete('xs.foo.', 7)).toEqual({ start: 0, candidates: ['xs.foo.bar', 'xs.foo.baz'] });
    expect((await s.engine.complete('toStr', 5)).candidates).toEqual(['toString']);
    expect((await s.engine.complete('x', 1)).candidates).toContain('xs');
    expect((await s.engine.complete('xs.fob.', 7)).candidates).toEqual([]);
  });
});

describe('traces', () => {
  it(':te shows the frames of function calls', async () => {
    await s.run('f = x: x.y');
    expect(await s.run('f { }')).not.toContain('while calling');
    await s.run(':te');
    const r = await s.run('f { }');
    expect(r).toContain('… while calling anonymous lambda');
    expect(r).toContain("error: attribute 'y' missing");
  });
});

describe('bindings entered earlier', () => {
  it('keep the variables they saw when a name is bound again (their big bindings are not deferred)', async () => {
    await s.run('a = 1');
    await s.run('f = let g = x: builtins.concatStringsSep "-" [ (toString a) (toString x) "padding padding" ]; in g');
    await s.run('a = 2');
    expect(await s.run('f 3')).toBe('"1-3-padding padding"\n');
    expect(await s.run('a')).toBe('2\n');
  });
});

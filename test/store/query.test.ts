// tsnix store query's graph printers and modifiers, print-env, check-validity
// (nix-store -q --tree/--graph/--graphml/--binding/-u/-f/--include-outputs,
// --print-env, --check-validity), on real builds in a temporary store.

import { spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseHash } from '../../src/store/hash.js';

const BIN = resolve(__dirname, '../../bin/tsnix');
const dir = mkdtempSync(join(tmpdir(), 'tsnix-query-'));
const env = { TSNIX_STORE_DIR: join(dir, 'store'), TSNIX_STATE_DIR: join(dir, 'var'), TMPDIR: join(dir, 'tmp'), NIX_CONFIG: '', NIX_PATH: '' };

afterAll(() => {
  spawnSync('chmod', ['-R', 'u+w', dir]);
  rmSync(dir, { recursive: true, force: true });
});

function tsnix(args: string[], opts: { input?: string; state?: string } = {}) {
  const e = { ...process.env, ...env, ...(opts.state ? { TSNIX_STATE_DIR: opts.state } : {}) };
  const r = spawnSync(BIN, args, { cwd: dir, env: e, encoding: 'utf8', input: opts.input });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const ok = (args: string[]): string => {
  const r = tsnix(args);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout;
};
const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '');
const base = (p: string): string => p.slice(p.lastIndexOf('/') + 1);

// c <- b <- a, and a refers to c directly too
const NIX = `
let
  mk = name: deps: derivation {
    inherit name;
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" "echo \${name} > $out; for d in $deps; do echo $d >> $out; done" ];
    inherit deps;
    FOO = "foo-\${name}";
  };
  c = mk "c" [ ];
  b = mk "b" [ c ];
  a = mk "a" [ b c ];
  lone = mk "lone" [ ];
in { inherit a b c lone; }
`;

const P: Record<string, string> = {};

beforeAll(() => {
  mkdirSync(join(dir, 'tmp'));
  writeFileSync(join(dir, 'q.nix'), NIX);
  for (const n of ['a', 'b', 'c', 'lone']) P[`${n}.drv`] = tsnix(['instantiate', 'q.nix', '-A', n]).stdout.trim();
  for (const n of ['a', 'b', 'c']) P[n] = ok(['store', 'query', '--outputs', P[`${n}.drv`]!]).trim();
  // a (and so b and c) built; lone only instantiated
  const built = tsnix(['store', 'realise', P['a.drv']!]);
  expect(built.code).toBe(0);
  expect(lines(built.stdout)).toEqual([P.a]);
});

describe('tsnix store query: the reference graph', () => {
  it('--tree draws each path under its referrer, a path seen before marked [...], roots sharing what was seen', () => {
    expect(ok(['store', 'query', '--tree', P.a!])).toBe(
      `${P.a}\n├───${P.c}\n└───${P.b}\n    └───${P.c} [...]\n`,
    );
    // a second root: b is expanded once, then only marked
    expect(ok(['store', '-q', '--tree', P.b!, P.a!])).toBe(
      `${P.b}\n└───${P.c}\n${P.a}\n├───${P.c} [...]\n└───${P.b} [...]\n`,
    );
    // derivations refer to their input derivations
    expect(ok(['store', '-q', '--tree', P['a.drv']!])).toBe(
      `${P['a.drv']}\n├───${P['c.drv']}\n└───${P['b.drv']}\n    └───${P['c.drv']} [...]\n`,
    );
    // a path inside a store path means that store path
    expect(ok(['store', '-q', '--tree', P.c!])).toBe(`${P.c}\n`);
  });

  it('--graph: a dot node per path, an edge from each reference to its referrer, colours in turn', () => {
    const out = lines(ok(['store', 'query', '--graph', P.a!]));
    expect(out[0]).toBe('digraph G {');
    expect(out[out.length - 1]).toBe('}');
    // the root first, then the others least store path first
    const nodes = out.filter((l) => l.includes('[label'));
    const rest = [P.b!, P.c!].sort().map(base);
    expect(nodes.map((l) => l.slice(1, l.indexOf('"', 1)))).toEqual([base(P.a!), ...rest]);
    expect(nodes[0]).toBe(`"${base(P.a!)}" [label = "a", shape = box, style = filled, fillcolor = "#ff0000"];`);
    const edges = out.filter((l) => l.includes(' -> '));
    expect(edges.map((l) => l.replace(/ \[color = "[a-z]+"\];$/, ''))).toEqual(
      expect.arrayContaining([`"${base(P.c!)}" -> "${base(P.a!)}"`, `"${base(P.b!)}" -> "${base(P.a!)}"`, `"${base(P.c!)}" -> "${base(P.b!)}"`]),
    );
    expect(edges.length).toBe(3);
    expect(edges.map((l) => /color = "([a-z]+)"/.exec(l)![1])).toEqual(['black', 'red', 'green']);
  });

  it('--graphml: the same graph as GraphML, edges from referrer to reference, sizes and types', () => {
    const out = ok(['store', 'query', '--graphml', P.b!]);
    expect(out.startsWith("<?xml version='1.0' encoding='utf-8'?>\n<graphml xmlns='http://graphml.graphdrawing.org/xmlns'\n")).toBe(true);
    expect(out.endsWith('</graph>\n</graphml>\n')).toBe(true);
    const size = (p: string) => ok(['store', 'query', '--size', p]).trim();
    expect(out).toContain(
      `  <node id="${base(P.b!)}">\n    <data key="narSize">${size(P.b!)}</data>\n    <data key="name"></data>\n    <data key="type">output-path</data>\n  </node>\n  <edge source="${base(P.b!)}" target="${base(P.c!)}"/>\n  <node id="${base(P.c!)}">\n    <data key="narSize">${size(P.c!)}</data>\n`,
    );
    expect(ok(['store', 'query', '--graphml', P['c.drv']!])).toContain('<data key="type">derivation</data>');
  });
});

describe('tsnix store query: bindings and modifiers', () => {
  it('--binding NAME: a variable of the derivation, or of the deriver of an output', () => {
    expect(ok(['store', 'query', '--binding', 'FOO', P['a.drv']!])).toBe('foo-a\n');
    expect(ok(['store', '-q', '-b', 'FOO', P.b!])).toBe('foo-b\n');
    const missing = tsnix(['store', '-q', '-b', 'NOPE', P['a.drv']!]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`error: derivation '${P['a.drv']}' has no environment binding named 'NOPE'\n`);
    const src = ok(['store', 'add', join(dir, 'q.nix')]).trim();
    const noDeriver = tsnix(['store', '-q', '-b', 'FOO', src]);
    expect(noDeriver.code).toBe(1);
    expect(noDeriver.stderr).toBe(`error: deriver of path '${src}' is not known\n`);
  });

  it('-u queries the outputs of a derivation, --include-outputs adds built outputs to -R', () => {
    expect(ok(['store', '-q', '--references', '-u', P['a.drv']!])).toBe(`${P.c}\n${P.b}\n`);
    expect(ok(['store', '-qRu', P['b.drv']!])).toBe(`${P.c}\n${P.b}\n`);
    const all = lines(ok(['store', '-qR', '--include-outputs', P['b.drv']!]));
    expect(new Set(all)).toEqual(new Set([P['c.drv'], P['b.drv'], P.c, P.b, ...lines(ok(['store', '-qR', P['b.drv']!]))]));
    // each after what it refers to
    expect(all.indexOf(P.c!)).toBeLessThan(all.indexOf(P.b!));
    expect(all.indexOf(P['c.drv']!)).toBeLessThan(all.indexOf(P['b.drv']!));
    // without it, only the derivations' closure
    expect(lines(ok(['store', '-qR', P['b.drv']!]))).not.toContain(P.b);
  });

  it('-f builds first, printing only the answer; without it an unbuilt output is not valid', () => {
    const out = ok(['store', '-q', '--outputs', P['lone.drv']!]).trim();
    const before = tsnix(['store', '-q', '--size', '-u', P['lone.drv']!]);
    expect(before.code).toBe(1);
    expect(before.stderr).toContain(`path '${out}' is not valid`);
    const r = tsnix(['store', '-q', '--tree', '-u', '-f', P['lone.drv']!]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${out}\n`);
    expect(r.stderr).toContain(`building '${P['lone.drv']}'`);
    expect(ok(['store', 'check-validity', out])).toBe('');
  });

  it('--valid-derivers lists the derivations known to produce a path', () => {
    expect(ok(['store', '-q', '--valid-derivers', P.a!])).toBe(`${P['a.drv']}\n`);
    expect(ok(['store', '-q', '--valid-derivers', P['a.drv']!])).toBe('');
  });
});

describe('tsnix store print-env and check-validity', () => {
  it("print-env: the derivation's environment as export lines, then its arguments", () => {
    expect(ok(['store', '--print-env', P['b.drv']!])).toBe(
      [
        "export FOO; FOO='foo-b'",
        "export builder; builder='/bin/sh'",
        `export deps; deps='${P.c}'`,
        "export name; name='b'",
        `export out; out='${P.b}'`,
        `export system; system='${ok(['instantiate', '--eval', '-E', 'builtins.currentSystem']).trim().slice(1, -1)}'`,
        "export _args; _args=''-c' 'echo b > $out; for d in $deps; do echo $d >> $out; done''",
        '',
      ].join('\n'),
    );
    const r = tsnix(['store', 'print-env', P['b.drv']!, P['a.drv']!]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("'--print-env' requires one derivation store path");
  });

  it('check-validity fails on the first invalid path, or prints the invalid ones with --print-invalid', () => {
    const bogus = join(env.TSNIX_STORE_DIR, '00000000000000000000000000000000-bogus');
    expect(ok(['store', '--check-validity', P.a!, P.c!])).toBe('');
    const r = tsnix(['store', '--check-validity', P.a!, bogus]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: path '${bogus}' is not valid\n`);
    expect(ok(['store', 'check-validity', '--print-invalid', bogus, P.a!])).toBe(`${bogus}\n`);
  });
});

describe('tsnix store dump-db, load-db and verify-path', () => {
  it("dump-db writes nix-store's registrations; load-db makes them valid in another database", () => {
    const one = ok(['store', '--dump-db', P.b!]);
    const hex = parseHash(ok(['store', '-q', '--hash', P.b!]).trim()).format('base16', false);
    expect(one).toBe([P.b, hex, ok(['store', '-q', '--size', P.b!]).trim(), P['b.drv'], '1', P.c, ''].join('\n'));
    const all = ok(['store', 'dump-db']);
    const other = join(dir, 'var2');
    // a malformed dump registers nothing
    const bad = tsnix(['store', 'load-db'], { input: all.replace(/\n[0-9a-f]{64}\n/, '\nzzz\n'), state: other });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe("error: hash 'zzz' has wrong length for hash type 'sha256'\n");
    const dangling = tsnix(['store', 'load-db'], { input: `${P.c}\n${'0'.repeat(64)}\n1\n\n1\n${env.TSNIX_STORE_DIR}/00000000000000000000000000000000-x\n`, state: other });
    expect(dangling.code).toBe(1);
    expect(dangling.stderr).toContain("its reference '");
    expect(tsnix(['store', 'dump-db'], { state: other }).stdout).toBe('');
    // the whole dump: the same registrations, derivations with their outputs
    const load = tsnix(['store', 'load-db'], { input: all, state: other });
    expect(load.stderr).toBe('');
    expect(load.code).toBe(0);
    expect(tsnix(['store', 'dump-db'], { state: other }).stdout).toBe(all);
    expect(tsnix(['store', '-q', '--valid-derivers', P.a!], { state: other }).stdout).toBe(`${P['a.drv']}\n`);
    expect(tsnix(['store', 'verify', '--check-contents'], { state: other }).code).toBe(0);
  });

  it('verify-path reports a path whose contents changed, with status 1', () => {
    expect(ok(['store', '--verify-path', P.a!, P.c!])).toBe('');
    const before = readFileSync(P.c!);
    chmodSync(P.c!, 0o644);
    appendFileSync(P.c!, 'changed\n');
    try {
      const r = tsnix(['store', 'verify-path', P.a!, P.c!]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^path '${P.c}' was modified! expected hash 'sha256:[0-9a-z]{52}', got 'sha256:[0-9a-z]{52}'\n$`));
    } finally {
      writeFileSync(P.c!, before);
      chmodSync(P.c!, 0o444);
    }
    expect(ok(['store', 'verify-path', P.c!])).toBe('');
  });
});

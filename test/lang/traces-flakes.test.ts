// Error traces as current CppNix collects and prints them (memoised errors,
// show-trace dependent call frames, truncation, blackhole positions, lambda
// names), builtins.warn's indentation, and flake references.
import { describe, expect, it } from 'vitest';
import { fromBytes, toBytes } from '../../grammar/errors.js';
import { NixError, NixUsageError, renderError } from '../../src/eval/errors.js';
import { forceDeep } from '../../src/eval/ops.js';
import { printInstantiate } from '../../src/eval/print.js';
import { Settings } from '../../src/eval/settings.js';
import { EvalState } from '../../src/eval/state.js';
import { indentMessage } from '../../src/eval/builtins/control.js';
import { flakeRefToString, parseFlakeRef } from '../../src/eval/builtins/flakes.js';

const stderr: string[] = [];
function state(showTrace: boolean) {
  const settings = new Settings();
  settings.set('show-trace', String(showTrace), 'test');
  return new EvalState({ settings, stderr: (s) => stderr.push(s), env: { HOME: '/home/test' } });
}

function ev(text: string, showTrace = true): string {
  return fromBytes(printInstantiate(forceDeep(state(showTrace).evalString(toBytes(text), toBytes('«string»'), '/tmp'))));
}

function fail(text: string, showTrace = true): NixError {
  try {
    forceDeep(state(showTrace).evalString(toBytes(text), toBytes('«string»'), '/tmp'));
  } catch (e) {
    if (e instanceof NixError) return e;
    throw e;
  }
  throw new Error(`no error: ${text}`);
}

/** Frames outermost first, then the message. */
function frames(text: string, showTrace = true): string[] {
  const e = fail(text, showTrace);
  return [...[...e.frames].reverse().map((f) => f.msg), `error: ${e.msg}`];
}

describe('memoised errors', () => {
  it('a failed thunk is not evaluated again', () => {
    stderr.length = 0;
    const text = 'let foo = builtins.trace "throwing" throw "nope"; in builtins.seq (builtins.tryEval foo).success (builtins.tryEval foo).success';
    expect(ev(text)).toBe('false');
    expect(stderr.join('')).toBe('trace: throwing\n');
  });
  it('forcing it again rethrows a copy with the frames of the first failure', () => {
    const text =
      'let a = throw "nope"; b = builtins.addErrorContext "b" a; c = builtins.addErrorContext "c" a; d = builtins.addErrorContext "d" a; ' +
      'in builtins.seq (builtins.tryEval b) (builtins.seq (builtins.tryEval c) d)';
    expect(frames(text)).toEqual([
      "while calling the 'seq' builtin",
      "while calling the 'seq' builtin",
      'd',
      'b',
      "while calling the 'throw' builtin",
      'error: nope',
    ]);
  });
  it('the copy keeps the error class (tryEval still catches it)', () => {
    expect(ev('let a = throw "x"; in [ (builtins.tryEval a).success (builtins.tryEval a).success ]')).toBe('[ false false ]');
  });
});

describe('call frames and truncation', () => {
  it('lambda calls add frames only with show-trace', () => {
    expect(frames('let f = x: throw "k"; in f 1', true)).toContain("while calling 'f'");
    expect(frames('let f = x: throw "k"; in f 1', false)).toEqual(["while calling the 'throw' builtin", 'error: k']);
  });
  it('addErrorContext adds no frame of its own', () => {
    expect(frames('builtins.addErrorContext "ctx" (throw "k")')).toEqual(['ctx', "while calling the 'throw' builtin", 'error: k']);
  });
  it('without show-trace, frames stop after 3 units but important ones are kept', () => {
    const text = 'let f = n: if n == 0 then throw "k" else builtins.addErrorContext "n = ${toString n}" ("x" + f (n - 1)); in f 3';
    const out = fromBytes(renderError(fail(text, false), false));
    expect(out).toContain('… n = 3');
    expect(out).toContain('… n = 1');
    expect(out).toContain("(stack trace truncated; use '--show-trace' to show the full, detailed trace)");
    expect(out).not.toContain('while calling');
  });
  it('inner lambdas of a binding are named after it', () => {
    expect(frames('let f = a: b: throw "k"; in f 1 2')).toContain("while calling 'f'");
    expect(frames('let f = a: b: throw "k"; in f 1 2')).not.toContain('while calling anonymous lambda');
  });
  it('max-call-depth calls may nest', () => {
    const settings = new Settings();
    settings.set('max-call-depth', '10', 'test');
    const st = new EvalState({ settings, stderr: () => {}, env: {} });
    const run = (n: number) => st.evalString(toBytes(`let f = n: if n == 0 then 0 else f (n - 1); in f ${n}`), toBytes('«string»'), '/tmp');
    expect(run(10)).toBe(0); // 11 nested calls: the depth before the last one is 10
    expect(() => run(11)).toThrow('max-call-depth');
  });
});

describe('positions of infinite recursion', () => {
  it('is where the blackhole was forced', () => {
    const e = fail('let f = builtins.add f 1; in toString f');
    expect(e.pos).toBe(null);
    expect(e.frames.map((f) => f.msg)).toContain('entering the infinite recursion');
    const e2 = fail('let f = { x ? y, y ? x }: x + y; in f { }');
    expect(e2.pos?.offset).toBe(14); // the `y` of `x ? y`
  });
});

describe('missing attributes', () => {
  it('have no position; the select frame shows it, outer selects add theirs', () => {
    expect(frames('let { a = { y = 1; }; body = a.x; }')).toEqual([
      "while evaluating the attribute 'body'",
      "from the definition of 'body'",
      "while evaluating the attribute 'x'",
      "error: attribute 'x' missing",
    ]);
  });
});

describe('usage errors', () => {
  it('an unknown hash algorithm is a usage error', () => {
    const e = fail('builtins.hashString "foo" "x"');
    expect(e).toBeInstanceOf(NixUsageError);
  });
});

describe('builtins.warn', () => {
  it('indents continuation lines under the prefix, unless the message starts with a newline', () => {
    expect(indentMessage('evaluation warning: ', 'foo\nbar')).toBe('evaluation warning: foo\n                    bar');
    expect(indentMessage('evaluation warning: ', '\nfoo\nbar')).toBe('evaluation warning:\nfoo\nbar');
    expect(indentMessage('evaluation warning: ', 'a  \n\n')).toBe('evaluation warning: a');
  });
});

describe('printing', () => {
  it('remembers a list by the value holding it', () => {
    expect(ev('let x = [ x ]; in x')).toBe('[ [ «repeated» ] ]');
  });
});

describe('flake references', () => {
  const round = (s: string) => ev(`let r = builtins.parseFlakeRef "${s}"; in [ r (builtins.flakeRefToString r) ]`);
  it('github', () => {
    expect(round('github:NixOS/nixpkgs/23.05?dir=lib')).toBe(
      '[ { dir = "lib"; owner = "NixOS"; ref = "23.05"; repo = "nixpkgs"; type = "github"; } "github:NixOS/nixpkgs/23.05?dir=lib" ]',
    );
    expect(round('github:NixOS/nixpkgs/ae2e6b3958682513d28f7d633734571fb18285dd')).toBe(
      '[ { owner = "NixOS"; repo = "nixpkgs"; rev = "ae2e6b3958682513d28f7d633734571fb18285dd"; type = "github"; } "github:NixOS/nixpkgs/ae2e6b3958682513d28f7d633734571fb18285dd" ]',
    );
  });
  it('indirect (flake IDs)', () => {
    expect(round('nixpkgs')).toBe('[ { id = "nixpkgs"; type = "indirect"; } "flake:nixpkgs" ]');
    expect(round('flake:nixpkgs/nixos-23.05')).toBe('[ { id = "nixpkgs"; ref = "nixos-23.05"; type = "indirect"; } "flake:nixpkgs/nixos-23.05" ]');
  });
  it('git, with query parameters as typed attributes', () => {
    expect(round('git+https://example.org/r.git?ref=main&shallow=1&revCount=5')).toBe(
      '[ { ref = "main"; revCount = 5; shallow = true; type = "git"; url = "https://example.org/r.git"; } "git+https://example.org/r.git?ref=main&revCount=5&shallow=1" ]',
    );
  });
  it('paths and tarballs', () => {
    expect(round('/foo/bar?dir=sub')).toBe('[ { dir = "sub"; path = "/foo/bar"; type = "path"; } "path:/foo/bar?dir=sub" ]');
    expect(round('https://example.org/a.tar.gz')).toBe('[ { type = "tarball"; url = "https://example.org/a.tar.gz"; } "https://example.org/a.tar.gz" ]');
    expect(round('https://example.org/a.txt')).toBe('[ { type = "file"; url = "https://example.org/a.txt"; } "https://example.org/a.txt" ]');
    expect(flakeRefToString({ input: new Map([['type', 'tarball'], ['url', 'https://e.org/x']]), subdir: '' })).toBe('tarball+https://e.org/x');
  });
  it('errors', () => {
    expect(() => parseFlakeRef('./foo')).toThrow("flake reference './foo' is not an absolute path");
    expect(() => parseFlakeRef('github:NixOS')).toThrow("URL 'github:NixOS' is invalid");
    expect(fail('builtins.flakeRefToString { type = "github"; owner = "a"; repo = -1; }').msg).toBe('negative value given for flake ref attr repo: -1');
    expect(fail('builtins.flakeRefToString { type = "github"; owner = "a"; repo = "b"; bogus = "c"; }').msg).toBe("unsupported input attribute 'bogus'");
  });
});

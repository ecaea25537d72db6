// POSIX extended regular expressions as CppNix runs them (libstdc++
// std::regex, extended syntax), see src/eval/regex.ts.  Expected values were
// produced by CppNix (`nix-instantiate --eval --strict`) and cross-checked
// against a C++ program using libstdc++'s std::regex directly.

import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LANG, readIndentedStrings } from './lang-suite.js';
import {
  RegexError,
  clearRegexCache,
  compileRegex,
  matchFull,
  regexEngines,
  splitAll,
  type CompiledRegex,
} from '../../src/eval/regex.js';


/** UTF-8 text -> Nix byte string, and back. */
const b = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');
const u = (s: string): string => Buffer.from(s, 'latin1').toString('utf8');

type Groups = (string | null)[];
type SplitResult = (string | Groups)[];

const uGroups = (g: Groups | null): Groups | null => (g === null ? null : g.map((x) => (x === null ? null : u(x))));
const uSplit = (r: SplitResult): SplitResult => r.map((x) => (typeof x === 'string' ? u(x) : (uGroups(x) as Groups)));

/** The same compiled pattern, restricted to the libstdc++-emulating NFA engine. */
function nfaOnly(re: CompiledRegex): CompiledRegex {
  return { ...re, jsMatch: null, jsSearch: null };
}

function match(p: string, s: string, nfa = false): Groups | null {
  const re = compileRegex(b(p));
  return uGroups(matchFull(nfa ? nfaOnly(re) : re, b(s)));
}

function split(p: string, s: string, nfa = false): SplitResult {
  const re = compileRegex(b(p));
  return uSplit(splitAll(nfa ? nfaOnly(re) : re, b(s)));
}

// [mode, pattern, subject, what CppNix returns]
const ORACLE: ['m' | 's', string, string, Groups | SplitResult | null][] = [
  ["m", "(a|ab)(c|bcd)(d*)", "abcd", ["a","bcd",""]],
  ["m", "((a)|b)*", "ab", ["b","a"]],
  ["m", "(a*)+", "aa", [""]],
  ["m", "(a*)*", "b", null],
  ["m", "(a*)*", "", [""]],
  ["m", "(a*)?", "", [""]],
  ["m", "(a|ab)*", "abab", ["ab"]],
  ["m", "(a|ab)(bc|c)", "abc", ["a","bc"]],
  ["m", ".", "\n", []],
  ["m", "a}", "a}", []],
  ["m", "\\{}", "{}", []],
  ["m", "a**", "aa", []],
  ["m", "a+*", "aa", []],
  ["m", "()", "", [""]],
  ["m", "(|a)", "a", ["a"]],
  ["m", "a|", "", []],
  ["m", "^a$", "a", []],
  ["m", "a^b", "a^b", null],
  ["m", "a$b", "a$b", null],
  ["m", "[]a]", "]", []],
  ["m", "[^]a]", "b", []],
  ["m", "[^]a]", "]", null],
  ["m", "[a-]", "-", []],
  ["m", "[\\]", "\\", []],
  ["m", "[\\n]", "\\", []],
  ["m", "[\\n]", "n", []],
  ["m", "[[:alpha:]]+", "abZ", []],
  ["m", "[[:ALPHA:]]+", "abZ", []],
  ["m", "[[=a=]]", "A", []],
  ["m", "[[.a.]]", "a", []],
  ["m", "[[.hyphen.]]", "-", []],
  ["m", "[[.space.]]", " ", []],
  ["m", "[[:w:]]+", "a_1", []],
  ["m", "[[:s:]]", "\t", []],
  ["m", "[[:d:]]", "7", []],
  ["m", "[[:blank:]]", "\n", null],
  ["m", "[[:punct:]]+", "!-_~", []],
  ["m", "[[:xdigit:]]+", "09afAF", []],
  ["m", "[[:cntrl:]]", "\u0001", []],
  ["m", "[[:print:]]", " ", []],
  ["m", "[[:graph:]]", " ", null],
  ["m", "a{0}", "", []],
  ["m", "(a){0}", "", [null]],
  ["m", "(a){2}", "aa", ["a"]],
  ["m", "((a)|b){2}", "ab", ["b","a"]],
  ["m", "(a|b){2,3}", "aba", ["a"]],
  ["m", "a{2,}", "aaaa", []],
  ["m", "x*", "xxx", []],
  ["m", "(x)(y)?(z)", "xz", ["x",null,"z"]],
  ["m", "(f((e)|()(o)))(x)", "fox", ["fo","o",null,"","o","x"]],
  ["m", "é", "é", []],
  ["m", ".", "é", null],
  ["m", "..", "é", []],
  ["m", "[é]", "é", null],
  ["m", "[é]+", "é", []],
  ["m", "/", "/", []],
  ["m", "\\$", "$", []],
  ["m", "\\^a", "^a", []],
  ["m", "\\.\\[\\(\\)\\*\\+\\?\\{\\|\\\\", ".[()*+?{|\\", []],
  ["m", "(.*)-([0-9][^-]*)", "hello-1.0-2", ["hello-1.0","2"]],
  ["m", "([^-]*)-(.*)", "a-b-c", ["a","b-c"]],
  ["m", "(a+|b+)*", "aabbb", ["bbb"]],
  ["m", "(a|b)*c", "ababc", ["b"]],
  ["m", "([0-9]+)\\.([0-9]+)", "12.34", ["12","34"]],
  ["s", "(a)*", "abc", ["",["a"],"",[null],"b",[null],"c",[null],""]],
  ["s", "", "ab", ["",[],"a",[],"b",[],""]],
  ["s", "(a|ab)", "abc", ["",["ab"],"c"]],
  ["s", "(a|ab)*", "ababc", ["",["ab"],"",[null],"c",[null],""]],
  ["s", "(a|ab)(bc|c)", "abc", ["",["a","bc"],""]],
  ["s", "a*", "baaac", ["",[],"b",[],"",[],"c",[],""]],
  ["s", "x*", "abc", ["",[],"a",[],"b",[],"c",[],""]],
  ["s", "(x)*", "abc", ["",[null],"a",[null],"b",[null],"c",[null],""]],
  ["s", "^a", "aaa", ["",[],"aa"]],
  ["s", "a$", "aaa", ["aa",[],""]],
  ["s", "^", "abc", ["",[],"abc"]],
  ["s", "$", "abc", ["abc",[],""]],
  ["s", "b*|c", "abcbb", ["",[],"a",[],"",[],"",[],"",[],""]],
  ["s", "(c|cd)(e*)", "acdeex", ["a",["cd","ee"],"x"]],
  ["s", "(a|b)|ab", "abab", ["",[null],"",[null],""]],
  ["s", "[[:space:]]+", " a  b ", ["",[],"a",[],"b",[],""]],
  ["s", "(,)", "a,b,,c", ["a",[","],"b",[","],"",[","],"c"]],
  ["s", "(o+)", "oooofoooo", ["",["oooo"],"f",["oooo"],""]],
  ["s", "(a)|(c)", "abc", ["",["a",null],"b",[null,"c"],""]],
  ["s", "([[:upper:]]+)", "  FOO   ", ["  ",["FOO"],"   "]],
  ["s", "\\.", "1.2.3", ["1",[],"2",[],"3"]],
  ["s", "(/|\\.)", "a/b.c", ["a",["/"],"b",["."],"c"]],
  ["s", "(a*)*", "aab", ["",[""],"",[""],"b",[""],""]],
  ["s", "(a*)+", "aab", ["",[""],"",[""],"b",[""],""]],
  ["s", "(a|)+", "aab", ["",[""],"",[""],"b",[""],""]],
  ["s", "é", "aéb", ["a",[],"b"]],
  ["s", ".", "é", ["",[],"",[],""]],

];

describe('match and split agree with CppNix', () => {
  for (const [mode, p, s, want] of ORACLE) {
    const name = `${mode === 'm' ? 'match' : 'split'} ${JSON.stringify(p)} ${JSON.stringify(s)}`;
    it(name, () => {
      if (mode === 'm') {
        expect(match(p, s)).toEqual(want);
        expect(match(p, s, true)).toEqual(want);
      } else {
        expect(split(p, s)).toEqual(want);
        expect(split(p, s, true)).toEqual(want);
      }
    });
  }
});

describe('POSIX (libstdc++) semantics that differ from JS RegExp', () => {
  it('match returns the captures of the first full match, not the POSIX leftmost-longest ones', () => {
    // JS agrees here; a textbook POSIX matcher would give [ "ab" "c" "d" ].
    expect(match('(a|ab)(c|bcd)(d*)', 'abcd')).toEqual(['a', 'bcd', '']);
    expect(/^(?:(a|ab)(c|bcd)(d*))$/.exec('abcd')!.slice(1)).toEqual(['a', 'bcd', '']);
  });

  it('split picks the longest alternative (JS picks the first)', () => {
    expect(split('(a|ab)', 'abc')).toEqual(['', ['ab'], 'c']);
    expect('abc'.match(/(a|ab)/)![1]).toBe('a');
    expect(split('(a|ab)*', 'ababc')).toEqual(['', ['ab'], '', [null], 'c', [null], '']);
    expect(split('(c|cd)(e*)', 'acdeex')).toEqual(['a', ['cd', 'ee'], 'x']);
  });

  it('captures are not reset between loop iterations', () => {
    expect(match('((a)|b)*', 'ab')).toEqual(['b', 'a']);
    expect(/^(?:((a)|b)*)$/.exec('ab')![2]).toBeUndefined();
    expect(match('((a)|b){2}', 'ab')).toEqual(['b', 'a']);
  });

  it('loops may run an empty iteration', () => {
    expect(match('(a*)+', 'aa')).toEqual(['']);
    expect(/^(?:(a*)+)$/.exec('aa')![1]).toBe('aa');
    expect(match('(a*)?', '')).toEqual(['']);
    expect(/^(?:(a*)?)$/.exec('')![1]).toBeUndefined();
    expect(match('(a*)*', '')).toEqual(['']);
    expect(split('(a*)*', 'aab')).toEqual(['', [''], '', [''], 'b', [''], '']);
  });

  it('`.` matches newlines, ^ and $ only match at the ends of the subject', () => {
    expect(match('.', '\n')).toEqual([]);
    expect(match('a.b', 'a\nb')).toEqual([]);
    expect(match('a^b', 'a^b')).toBeNull();
    expect(match('(a|^b)+', 'ab')).toBeNull();
    expect(split('^a', 'aaa')).toEqual(['', [], 'aa']);
    expect(split('a$', 'aaa')).toEqual(['aa', [], '']);
    expect(split('(^|,)x', 'x,x')).toEqual(['', [''], '', [','], '']);
  });

  it('bytes, not characters', () => {
    expect(match('.', 'é')).toBeNull();
    expect(match('..', 'é')).toEqual([]);
    expect(match('[é]', 'é')).toBeNull();
    expect(match('[é]+', 'é')).toEqual([]);
    expect(split('.', 'é')).toEqual(['', [], '', [], '']);
  });

  it('JS-special characters are plain characters', () => {
    expect(match('/', '/')).toEqual([]);
    expect(match('a}', 'a}')).toEqual([]);
    expect(match(']', ']')).toEqual([]);
    expect(match('\\{}', '{}')).toEqual([]);
    expect(match('[\\]', '\\')).toEqual([]);
    expect(match('[\\d]', 'd')).toEqual([]);
    expect(match('[\\d]', '1')).toBeNull();
    expect(match('-', '-')).toEqual([]);
  });
});

describe('invalid patterns', () => {
  const invalid = [
    '(', '(.*', 'f(o*o', '\\q', 'a{', '{', '{1}', '[a', '[[:foo:]]', '\\d', '\\w', '\\n', '\\]', '\\}',
    '^*', '*a', 'a|*', '+', '?', '[[.-.]]', '[[.ab.]]', '[[=ab=]]', '[b-a]', 'a{2,1}', 'a)', ')', '[a-z-9]',
    '[a--]', 'a{1', 'a{1,', 'a{1,2', 'a{ 1}', 'a{x}', 'a{,2}', '\\', '[[:alpha:]-z]', '[z-[:alpha:]]', '[]',
    '[^]', '$*', '[[', '[[:', '[[:alpha:', '[[:alpha:]', '[a-\\]',
  ];
  for (const p of invalid) {
    it(JSON.stringify(p), () => {
      expect(() => compileRegex(b(p))).toThrow(RegexError);
      expect(() => compileRegex(b(p))).toThrow(`invalid regular expression '${p}'`);
    });
  }

  it('(?:...) is not a non-capturing group', () => {
    expect(() => compileRegex('(?:a)')).toThrow(RegexError);
  });

  it('too many NFA states is a different error', () => {
    for (const p of ['a{100000}', '(a{1000}){100}', 'a{99999999999}']) {
      expect(() => compileRegex(p)).toThrow(`memory limit exceeded by regular expression '${p}'`);
      try {
        compileRegex(p);
      } catch (e) {
        expect((e as RegexError).kind).toBe('space');
      }
    }
  });

  it('valid corner cases', () => {
    expect(match('[--0]', '.')).toEqual([]);
    expect(match('[!--]', ',')).toEqual([]);
    expect(match('a||b', '')).toEqual([]);
    expect(match('(|)', '')).toEqual(['']);
    expect(match('a{0,0}', '')).toEqual([]);
    expect(match('a{2}{3}', 'aaaaaa')).toEqual([]);
    // libstdc++ truncates interval counts to `int`: 2^32 repeats become 0
    expect(match('a{4294967296}', '')).toEqual([]);
    // the NFA state limit is exact: 99993 copies fit, 99994 do not
    expect(match('a{99993}', 'a'.repeat(99993))).toEqual([]);
    expect(() => compileRegex('a{99994}')).toThrow('memory limit exceeded');
  });

  it('errors are cached but still thrown every time', () => {
    clearRegexCache();
    expect(() => compileRegex('(')).toThrow(RegexError);
    expect(() => compileRegex('(')).toThrow(RegexError);
  });
});

describe('CppNix language tests', () => {
  it('eval-okay-regex-match', () => {
    const matches = (p: string, s: string): boolean => match(p, s) !== null;
    expect(matches('foobar', 'foobar')).toBe(true);
    expect(matches('fo*', 'f')).toBe(true);
    expect(matches('fo+', 'f')).toBe(false);
    expect(matches('fo*', 'fo')).toBe(true);
    expect(matches('fo*', 'foo')).toBe(true);
    expect(matches('fo+', 'foo')).toBe(true);
    expect(matches('fo{1,2}', 'foo')).toBe(true);
    expect(matches('fo{1,2}', 'fooo')).toBe(false);
    expect(matches('fo*', 'foobar')).toBe(false);
    expect(matches('[[:space:]]+([^[:space:]]+)[[:space:]]+', '  foo   ')).toBe(true);
    expect(matches('[[:space:]]+([[:upper:]]+)[[:space:]]+', '  foo   ')).toBe(false);
    expect(match('(.*)\\.nix', 'foobar.nix')).toEqual(['foobar']);
    expect(match('[[:space:]]+([[:upper:]]+)[[:space:]]+', '  FOO   ')).toEqual(['FOO']);
    const splitFN = '((.*)/)?([^/]*)\\.(nix|cc)';
    expect(match(splitFN, '/path/to/foobar.nix')).toEqual(['/path/to/', '/path/to', 'foobar', 'nix']);
    expect(match(splitFN, 'foobar.cc')).toEqual([null, null, 'foobar', 'cc']);
  });

  it('eval-okay-regex-split', () => {
    for (const nfa of [false, true]) {
      const sp = (p: string, s: string): SplitResult => split(p, s, nfa);
      expect(sp('foobar', 'foobar')).toEqual(['', [], '']);
      expect(sp('fo*', 'f')).toEqual(['', [], '']);
      expect(sp('fo+', 'f')).toEqual(['f']);
      expect(sp('fo*', 'fo')).toEqual(['', [], '']);
      expect(sp('fo*', 'foo')).toEqual(['', [], '']);
      expect(sp('fo+', 'foo')).toEqual(['', [], '']);
      expect(sp('fo{1,2}', 'foo')).toEqual(['', [], '']);
      expect(sp('fo{1,2}', 'fooo')).toEqual(['', [], 'o']);
      expect(sp('fo*', 'foobar')).toEqual(['', [], 'bar']);
      expect(sp('(fo*)', 'f')).toEqual(['', ['f'], '']);
      expect(sp('(fo+)', 'f')).toEqual(['f']);
      expect(sp('(fo*)', 'fo')).toEqual(['', ['fo'], '']);
      expect(sp('(f)(o*)', 'f')).toEqual(['', ['f', ''], '']);
      expect(sp('(f)(o*)', 'foo')).toEqual(['', ['f', 'oo'], '']);
      expect(sp('(fo+)', 'foo')).toEqual(['', ['foo'], '']);
      expect(sp('(fo{1,2})', 'foo')).toEqual(['', ['foo'], '']);
      expect(sp('(fo{1,2})', 'fooo')).toEqual(['', ['foo'], 'o']);
      expect(sp('(fo*)', 'foobar')).toEqual(['', ['foo'], 'bar']);
      expect(sp('(o+)', 'oooofoooo')).toEqual(['', ['oooo'], 'f', ['oooo'], '']);
      expect(sp('(b)', 'foobarbaz')).toEqual(['foo', ['b'], 'ar', ['b'], 'az']);
      expect(sp("[[:space:]]+|([',.!?])", "Nix Rocks!\nThat's why I use it.\n")).toEqual([
        'Nix', [null], 'Rocks', ['!'], '', [null], 'That', ["'"], 's', [null], 'why', [null], 'I', [null],
        'use', [null], 'it', ['.'], '', [null], '',
      ]);
      expect(sp('(a)b', 'abc')).toEqual(['', ['a'], 'c']);
      expect(sp('([ac])', 'abc')).toEqual(['', ['a'], 'b', ['c'], '']);
      expect(sp('(a)|(c)', 'abc')).toEqual(['', ['a', null], 'b', [null, 'c'], '']);
      expect(sp('([[:upper:]]+)', '  FOO   ')).toEqual(['  ', ['FOO'], '   ']);
    }
  });

  const match2 = `${LANG}/eval-okay-regex-match2.nix`;
  it.skipIf(!fs.existsSync(match2))('eval-okay-regex-match2 (real nixpkgs patterns)', () => {
    const src = fs.readFileSync(match2, 'latin1');
    const strs = readIndentedStrings(src.slice(src.indexOf('[\n    [')));
    const want = parseNixList(fs.readFileSync(`${LANG}/eval-okay-regex-match2.exp`, 'latin1'));
    expect(strs.length).toBe(2 * want.length);
    for (const nfa of [false, true]) {
      const got = [];
      for (let i = 0; i < strs.length; i += 2) {
        const re = compileRegex(strs[i]!);
        got.push(matchFull(nfa ? nfaOnly(re) : re, strs[i + 1]!));
      }
      expect(got).toEqual(want);
    }
  });
});

describe('engines', () => {
  it('uses the JS engine for the common, provably equivalent patterns', () => {
    for (const p of [
      '(.*)-([0-9][^-]*)',
      '([a-z]+)://([^/]+)/(.*)/([^/]+)\\.(tar\\.gz|zip)',
      '[[:space:]]*([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*=[[:space:]]*"([^"]*)"[[:space:]]*(#.*)?',
      '[0-9]+',
      '\\.',
      '[[:space:]]+',
      '(/|\\.)',
    ]) {
      expect(regexEngines(compileRegex(p))).toEqual({ match: 'js', split: 'js' });
    }
  });

  it('falls back to the NFA engine where JS would differ', () => {
    expect(regexEngines(compileRegex('(a|ab)')).split).toBe('nfa');
    expect(regexEngines(compileRegex('(a|ab)')).match).toBe('js');
    expect(regexEngines(compileRegex('((a)|b)*')).match).toBe('nfa');
    expect(regexEngines(compileRegex('(a*)+')).match).toBe('nfa');
    expect(regexEngines(compileRegex('x*')).split).toBe('nfa');
  });

  it('both engines agree on random patterns', () => {
    let seed = 12345;
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    const pick = <T>(a: T[]): T => a[Math.floor(rnd() * a.length)]!;
    const atom = (d: number): string => {
      const r = rnd();
      if (r < 0.4) return pick(['a', 'b', 'c']);
      if (r < 0.5) return '.';
      if (r < 0.65) return pick(['[ab]', '[^a]', '[[:alpha:]]', '\\.', '[b-c]']);
      if (r < 0.7) return pick(['^', '$']);
      if (d > 1) return 'a';
      return '(' + alt(d + 1) + ')';
    };
    const quant = (d: number): string => {
      const a = atom(d);
      if (a === '^' || a === '$') return a;
      const r = rnd();
      return a + (r < 0.15 ? '*' : r < 0.25 ? '+' : r < 0.33 ? '?' : r < 0.38 ? pick(['{2}', '{1,2}', '{0,2}', '{2,}']) : '');
    };
    const seqOf = (d: number): string => {
      let s = '';
      const n = Math.floor(rnd() * 4);
      for (let i = 0; i < n; i++) s += quant(d);
      return s;
    };
    const alt = (d: number): string => {
      let s = seqOf(d);
      while (rnd() < 0.3) s += '|' + seqOf(d);
      return s;
    };
    let jsUsed = 0;
    for (let i = 0; i < 1500; i++) {
      const p = alt(0);
      const re = compileRegex(p);
      for (let k = 0; k < 3; k++) {
        let s = '';
        const l = Math.floor(rnd() * 10);
        for (let j = 0; j < l; j++) s += pick(['a', 'b', 'c', '.', '\n']);
        const e = regexEngines(re);
        if (e.match === 'js') jsUsed++;
        expect(matchFull(re, s), `match ${p} ${s}`).toEqual(matchFull(nfaOnly(re), s));
        expect(splitAll(re, s), `split ${p} ${s}`).toEqual(splitAll(nfaOnly(re), s));
      }
    }
    expect(jsUsed).toBeGreaterThan(1000);
  });

  it('is fast on the regex benchmark workload', () => {
    const names = ['libfoo', 'python3.10-requests', 'gcc-wrapper', 'hello', 'perl5.34-JSON-PP', 'xorg-libX11', 'rust-analyzer', 'zlib'];
    const n = 40000;
    const t0 = performance.now();
    let found = 0;
    for (let i = 0; i < n; i++) {
      const name = names[i % 8]!;
      const pkg = `${name}-${Math.floor(i / 100)}.${i % 100}.${Math.floor(i / 7)}`;
      const url = `https://mirror${Math.floor(i / 1000)}.example.org/pub/${name}/v${i}/${name}-${i}.${i % 5 === 0 ? 'zip' : 'tar.gz'}`;
      const m = matchFull(compileRegex('(.*)-([0-9][^-]*)'), pkg);
      const v = matchFull(compileRegex('([a-z]+)://([^/]+)/(.*)/([^/]+)\\.(tar\\.gz|zip)'), url);
      if (m && v) found++;
      splitAll(compileRegex('\\.'), m![1]!);
    }
    const words = splitAll(compileRegex('[[:space:]]+'), Array.from({ length: 20000 }, (_, i) => names[i % 8]).join(' \t '));
    const dt = performance.now() - t0;
    expect(found).toBe(n);
    expect(words.length).toBe(2 * 20000 - 1);
    expect(dt).toBeLessThan(5000);
  });

  it('does not overflow the stack on long subjects', () => {
    const s = 'ab'.repeat(200000);
    expect(matchFull(nfaOnly(compileRegex('(a|b)*')), s)).toEqual(['b']);
    expect(matchFull(compileRegex('((a)|b)*'), s)).toEqual(['b', 'a']);
    expect(splitAll(compileRegex('(a|ab)'), s).length).toBe(400001);
  });
});

// ---------------------------------------------------------------------------
// Helpers to read the language-test files.


/** Parses a printed Nix list of nulls and lists of strings/nulls. */
function parseNixList(text: string): (Groups | null)[] {
  let i = 0;
  const ws = (): void => {
    while (/\s/.test(text[i] ?? '')) i++;
  };
  const str = (): string => {
    i++; // "
    let s = '';
    while (text[i] !== '"') {
      if (text[i] === '\\') {
        const c = text[i + 1]!;
        s += c === 'n' ? '\n' : c === 't' ? '\t' : c === 'r' ? '\r' : c;
        i += 2;
      } else {
        s += text[i++];
      }
    }
    i++;
    return s;
  };
  const value = (): unknown => {
    ws();
    if (text.startsWith('null', i)) {
      i += 4;
      return null;
    }
    if (text[i] === '"') return str();
    if (text[i] === '[') {
      i++;
      const items: unknown[] = [];
      for (;;) {
        ws();
        if (text[i] === ']') {
          i++;
          return items;
        }
        items.push(value());
      }
    }
    throw new Error(`unexpected ${text.slice(i, i + 20)}`);
  };
  return value() as (Groups | null)[];
}

// fromJSON's errors: nlohmann::json's exact messages (what CppNix prints),
// and a parser that accepts exactly the texts nlohmann::json accepts.
import { describe, expect, it } from 'vitest';
import { toBytes } from '../../grammar/errors.js';
import { NixError, renderError } from '../../src/eval/errors.js';
import { forceDeep } from '../../src/eval/ops.js';
import { printInstantiate } from '../../src/eval/print.js';
import { Settings } from '../../src/eval/settings.js';
import { EvalState } from '../../src/eval/state.js';
import { parseJSON } from '../../src/eval/builtins/json.js';
import { jsonSyntaxError } from '../../src/eval/builtins/json-errors.js';

/** [JSON text as bytes (latin1), the message CppNix 2.8 prints for it (null: it parses)] */
const CASES: [string, string | null][] = [
  ['[1,2', '[json.exception.parse_error.101] parse error at line 1, column 5: syntax error while parsing array - unexpected end of input; expected \']\''],
  ['[1 x]', '[json.exception.parse_error.101] parse error at line 1, column 4: syntax error while parsing array - invalid literal; last read: \'1 x\'; expected \']\''],
  ['{"a": x}', '[json.exception.parse_error.101] parse error at line 1, column 7: syntax error while parsing value - invalid literal; last read: \'"a": x\''],
  ['{"a" 1}', '[json.exception.parse_error.101] parse error at line 1, column 6: syntax error while parsing object separator - unexpected number literal; expected \':\''],
  ['{"a":1,}', '[json.exception.parse_error.101] parse error at line 1, column 8: syntax error while parsing object key - unexpected \'}\'; expected string literal'],
  ['{1:2}', '[json.exception.parse_error.101] parse error at line 1, column 2: syntax error while parsing object key - unexpected number literal; expected string literal'],
  ['[1,]', '[json.exception.parse_error.101] parse error at line 1, column 4: syntax error while parsing value - unexpected \']\'; expected \'[\', \'{\', or a literal'],
  // (CppNix 2.8's nlohmann::json predates the empty-input message; current CppNix's has it)
  ['', '[json.exception.parse_error.101] parse error at line 1, column 1: attempting to parse an empty input; check that your input string or stream contains the expected JSON'],
  ['   ', '[json.exception.parse_error.101] parse error at line 1, column 4: syntax error while parsing value - unexpected end of input; expected \'[\', \'{\', or a literal'],
  ['tru', '[json.exception.parse_error.101] parse error at line 1, column 4: syntax error while parsing value - invalid literal; last read: \'tru\''],
  ['nul', '[json.exception.parse_error.101] parse error at line 1, column 4: syntax error while parsing value - invalid literal; last read: \'nul\''],
  ['falsy', '[json.exception.parse_error.101] parse error at line 1, column 5: syntax error while parsing value - invalid literal; last read: \'falsy\''],
  ['-', '[json.exception.parse_error.101] parse error at line 1, column 2: syntax error while parsing value - invalid number; expected digit after \'-\'; last read: \'-\''],
  ['-a', '[json.exception.parse_error.101] parse error at line 1, column 2: syntax error while parsing value - invalid number; expected digit after \'-\'; last read: \'-a\''],
  ['1.', '[json.exception.parse_error.101] parse error at line 1, column 3: syntax error while parsing value - invalid number; expected digit after \'.\'; last read: \'1.\''],
  ['1.e5', '[json.exception.parse_error.101] parse error at line 1, column 3: syntax error while parsing value - invalid number; expected digit after \'.\'; last read: \'1.e\''],
  ['1e', '[json.exception.parse_error.101] parse error at line 1, column 3: syntax error while parsing value - invalid number; expected \'+\', \'-\', or digit after exponent; last read: \'1e\''],
  ['1e+', '[json.exception.parse_error.101] parse error at line 1, column 4: syntax error while parsing value - invalid number; expected digit after exponent sign; last read: \'1e+\''],
  ['1ex', '[json.exception.parse_error.101] parse error at line 1, column 3: syntax error while parsing value - invalid number; expected \'+\', \'-\', or digit after exponent; last read: \'1ex\''],
  ['01', '[json.exception.parse_error.101] parse error at line 1, column 2: syntax error while parsing value - unexpected number literal; expected end of input'],
  ['1 2', '[json.exception.parse_error.101] parse error at line 1, column 3: syntax error while parsing value - unexpected number literal; expected end of input'],
  ['[1]]', '[json.exception.parse_error.101] parse error at line 1, column 4: syntax error while parsing value - unexpected \']\'; expected end of input'],
  ['{"a":1}}', '[json.exception.parse_error.101] parse error at line 1, column 8: syntax error while parsing value - unexpected \'}\'; expected end of input'],
  ['"abc', '[json.exception.parse_error.101] parse error at line 1, column 5: syntax error while parsing value - invalid string: missing closing quote; last read: \'"abc\''],
  ['"a\\x"', '[json.exception.parse_error.101] parse error at line 1, column 4: syntax error while parsing value - invalid string: forbidden character after backslash; last read: \'"a\\x\''],
  ['"\\u12"', '[json.exception.parse_error.101] parse error at line 1, column 6: syntax error while parsing value - invalid string: \'\\u\' must be followed by 4 hex digits; last read: \'"\\u12"\''],
  ['"\\u12g4"', '[json.exception.parse_error.101] parse error at line 1, column 6: syntax error while parsing value - invalid string: \'\\u\' must be followed by 4 hex digits; last read: \'"\\u12g\''],
  ['"\\ud800"', '[json.exception.parse_error.101] parse error at line 1, column 8: syntax error while parsing value - invalid string: surrogate U+D800..U+DBFF must be followed by U+DC00..U+DFFF; last read: \'"\\ud800"\''],
  ['"\\ud800x"', '[json.exception.parse_error.101] parse error at line 1, column 8: syntax error while parsing value - invalid string: surrogate U+D800..U+DBFF must be followed by U+DC00..U+DFFF; last read: \'"\\ud800x\''],
  ['"\\ud800\\u0041"', '[json.exception.parse_error.101] parse error at line 1, column 13: syntax error while parsing value - invalid string: surrogate U+D800..U+DBFF must be followed by U+DC00..U+DFFF; last read: \'"\\ud800\\u0041\''],
  ['"\\udc00"', '[json.exception.parse_error.101] parse error at line 1, column 7: syntax error while parsing value - invalid string: surrogate U+DC00..U+DFFF must follow U+D800..U+DBFF; last read: \'"\\udc00\''],
  ['"a\x0ab"', '[json.exception.parse_error.101] parse error at line 2, column 0: syntax error while parsing value - invalid string: control character U+000A (LF) must be escaped to \\u000A or \\n; last read: \'"a<U+000A>\''],
  ['"a\x09b"', '[json.exception.parse_error.101] parse error at line 1, column 3: syntax error while parsing value - invalid string: control character U+0009 (HT) must be escaped to \\u0009 or \\t; last read: \'"a<U+0009>\''],
  ['"\x01"', '[json.exception.parse_error.101] parse error at line 1, column 2: syntax error while parsing value - invalid string: control character U+0001 (SOH) must be escaped to \\u0001; last read: \'"<U+0001>\''],
  ['"\x1f"', '[json.exception.parse_error.101] parse error at line 1, column 2: syntax error while parsing value - invalid string: control character U+001F (US) must be escaped to \\u001F; last read: \'"<U+001F>\''],
  ['"\xff"', '[json.exception.parse_error.101] parse error at line 1, column 2: syntax error while parsing value - invalid string: ill-formed UTF-8 byte; last read: \'"\xff\''],
  ['"\xc3"', '[json.exception.parse_error.101] parse error at line 1, column 3: syntax error while parsing value - invalid string: ill-formed UTF-8 byte; last read: \'"\xc3"\''],
  ['"\xe2\x82"', '[json.exception.parse_error.101] parse error at line 1, column 4: syntax error while parsing value - invalid string: ill-formed UTF-8 byte; last read: \'"\xe2\x82"\''],
  ['"\xed\xa0\x80"', '[json.exception.parse_error.101] parse error at line 1, column 3: syntax error while parsing value - invalid string: ill-formed UTF-8 byte; last read: \'"\xed\xa0\''],
  ['"\xf4\x90\x80\x80"', '[json.exception.parse_error.101] parse error at line 1, column 3: syntax error while parsing value - invalid string: ill-formed UTF-8 byte; last read: \'"\xf4\x90\''],
  ['"\xc0\x80"', '[json.exception.parse_error.101] parse error at line 1, column 2: syntax error while parsing value - invalid string: ill-formed UTF-8 byte; last read: \'"\xc0\''],
  ['\xef\xbb\xbf[1]', null],
  ['\xef\xbb[1]', '[json.exception.parse_error.101] parse error at line 1, column 3: syntax error while parsing value - invalid BOM; must be 0xEF 0xBB 0xBF if given; last read: \'\xef\xbb[\''],
  ['\xef[1]', '[json.exception.parse_error.101] parse error at line 1, column 2: syntax error while parsing value - invalid BOM; must be 0xEF 0xBB 0xBF if given; last read: \'\xef[\''],
  ['[1]\x0a\x0ax', '[json.exception.parse_error.101] parse error at line 3, column 1: syntax error while parsing value - invalid literal; last read: \'1]<U+000A><U+000A>x\'; expected end of input'],
  ['\x0a\x0a  [1,\x0a 2,\x0a x]', '[json.exception.parse_error.101] parse error at line 5, column 2: syntax error while parsing value - invalid literal; last read: \'2,<U+000A> x\''],
  ['{"a":[1,{"b":}]}', '[json.exception.parse_error.101] parse error at line 1, column 14: syntax error while parsing value - unexpected \'}\'; expected \'[\', \'{\', or a literal'],
  ['[', '[json.exception.parse_error.101] parse error at line 1, column 2: syntax error while parsing value - unexpected end of input; expected \'[\', \'{\', or a literal'],
  ['{', '[json.exception.parse_error.101] parse error at line 1, column 2: syntax error while parsing object key - unexpected end of input; expected string literal'],
  ['{"a"', '[json.exception.parse_error.101] parse error at line 1, column 5: syntax error while parsing object separator - unexpected end of input; expected \':\''],
  ['{"a":', '[json.exception.parse_error.101] parse error at line 1, column 6: syntax error while parsing value - unexpected end of input; expected \'[\', \'{\', or a literal'],
  ['{"a":1', '[json.exception.parse_error.101] parse error at line 1, column 7: syntax error while parsing object - unexpected end of input; expected \'}\''],
  ['[1,2,', '[json.exception.parse_error.101] parse error at line 1, column 6: syntax error while parsing value - unexpected end of input; expected \'[\', \'{\', or a literal'],
  [']', '[json.exception.parse_error.101] parse error at line 1, column 1: syntax error while parsing value - unexpected \']\'; expected \'[\', \'{\', or a literal'],
  ['}', '[json.exception.parse_error.101] parse error at line 1, column 1: syntax error while parsing value - unexpected \'}\'; expected \'[\', \'{\', or a literal'],
  [':', '[json.exception.parse_error.101] parse error at line 1, column 1: syntax error while parsing value - unexpected \':\'; expected \'[\', \'{\', or a literal'],
  [',', '[json.exception.parse_error.101] parse error at line 1, column 1: syntax error while parsing value - unexpected \',\'; expected \'[\', \'{\', or a literal'],
  ['"\\/"', null],
  ['/* c */ 1', '[json.exception.parse_error.101] parse error at line 1, column 1: syntax error while parsing value - invalid literal; last read: \'/\''],
  ['1 // x', '[json.exception.parse_error.101] parse error at line 1, column 3: syntax error while parsing value - invalid literal; last read: \'1 /\'; expected end of input'],
  ['NaN', '[json.exception.parse_error.101] parse error at line 1, column 1: syntax error while parsing value - invalid literal; last read: \'N\''],
  ['Infinity', '[json.exception.parse_error.101] parse error at line 1, column 1: syntax error while parsing value - invalid literal; last read: \'I\''],
  ['-Infinity', '[json.exception.parse_error.101] parse error at line 1, column 2: syntax error while parsing value - invalid number; expected digit after \'-\'; last read: \'-I\''],
  ['+1', '[json.exception.parse_error.101] parse error at line 1, column 1: syntax error while parsing value - invalid literal; last read: \'+\''],
  ['.5', '[json.exception.parse_error.101] parse error at line 1, column 1: syntax error while parsing value - invalid literal; last read: \'.\''],
  ['1e400', '[json.exception.out_of_range.406] number overflow parsing \'1e400\''],
  ['-1e400', '[json.exception.out_of_range.406] number overflow parsing \'-1e400\''],
  ['1e-400', null],
  ['123456789012345678901234567890', null],
  ['-9223372036854775809', null],
  ['18446744073709551616', null],
  ['[1, 2] x', '[json.exception.parse_error.101] parse error at line 1, column 8: syntax error while parsing value - invalid literal; last read: \'2] x\'; expected end of input'],
  ['"\x7f"', null],
  ['"\\', '[json.exception.parse_error.101] parse error at line 1, column 3: syntax error while parsing value - invalid string: forbidden character after backslash; last read: \'"\\\''],
  ['"\\u', '[json.exception.parse_error.101] parse error at line 1, column 4: syntax error while parsing value - invalid string: \'\\u\' must be followed by 4 hex digits; last read: \'"\\u\''],
  ['["a" "b"]', '[json.exception.parse_error.101] parse error at line 1, column 8: syntax error while parsing array - unexpected string literal; expected \']\''],
  ['{"a":1 "b":2}', '[json.exception.parse_error.101] parse error at line 1, column 10: syntax error while parsing object - unexpected string literal; expected \'}\''],
  ['{"a":1,"a":2}', null],
  ['[-]', '[json.exception.parse_error.101] parse error at line 1, column 3: syntax error while parsing value - invalid number; expected digit after \'-\'; last read: \'-]\''],
  ['[--1]', '[json.exception.parse_error.101] parse error at line 1, column 3: syntax error while parsing value - invalid number; expected digit after \'-\'; last read: \'--\''],
  ['[1.5e]', '[json.exception.parse_error.101] parse error at line 1, column 6: syntax error while parsing value - invalid number; expected \'+\', \'-\', or digit after exponent; last read: \'1.5e]\''],
  ['[0x10]', '[json.exception.parse_error.101] parse error at line 1, column 3: syntax error while parsing array - invalid literal; last read: \'0x\'; expected \']\''],
  ['[1e5.5]', '[json.exception.parse_error.101] parse error at line 1, column 5: syntax error while parsing array - invalid literal; last read: \'1e5.\'; expected \']\''],
  ['"\\ud83d\\ude00"', null],
  ['"\\uD83D\\uDE00"', null],
  ['"\\ud83d\\u"', '[json.exception.parse_error.101] parse error at line 1, column 10: syntax error while parsing value - invalid string: \'\\u\' must be followed by 4 hex digits; last read: \'"\\ud83d\\u"\''],
  ['[true false]', '[json.exception.parse_error.101] parse error at line 1, column 11: syntax error while parsing array - unexpected false literal; expected \']\''],
  ['[truex]', '[json.exception.parse_error.101] parse error at line 1, column 6: syntax error while parsing array - invalid literal; last read: \'[truex\'; expected \']\''],
  ['[nulll]', '[json.exception.parse_error.101] parse error at line 1, column 6: syntax error while parsing array - invalid literal; last read: \'[nulll\'; expected \']\''],
  ['\x09\x0d\x0a 1 \x09\x0d\x0a', null],
];

/** parseJSON's outcome: the value printed, or the error's message. */
function outcome(text: string): { value?: string; error?: string } {
  try {
    return { value: Buffer.from(printInstantiate(forceDeep(parseJSON(text, null))), 'latin1').toString('utf8') };
  } catch (e) {
    if (e instanceof NixError) return { error: e.msg };
    throw e;
  }
}

describe('fromJSON syntax errors, as nlohmann::json words them', () => {
  it.each(CASES.map(([t, m]) => [JSON.stringify(t), t, m] as const))('%s', (_, text, msg) => {
    expect(jsonSyntaxError(text)).toBe(msg);
    const o = outcome(text);
    if (msg === null) expect(o.error).toBeUndefined();
    else expect(o.error).toBe(msg);
  });

  it('valid texts at the edges still parse to the same values', () => {
    expect(outcome('\xef\xbb\xbf[1]').value).toBe('[ 1 ]');
    expect(outcome('"\\ud83d\\ude00"').value).toBe('"😀"');
    expect(outcome('"\xf0\x9f\x98\x80\xc3\xa9\xe2\x82\xac"').value).toBe('"😀é€"');
    expect(outcome('\t\r\n 1 \t\r\n').value).toBe('1');
    expect(outcome('{"a":1,"a":2}').value).toBe('{ a = 2; }');
  });

  it('the parser rejects exactly what nlohmann::json rejects (random mutations of valid texts)', () => {
    const seeds = [
      '{"a": [1, 2.5e3, -0, true, false, null, "x\\u00e9\\n"], "b": {"c": {}}, "d": []}',
      '[0, -1, 1e-5, 1E+2, 123456789012345678901, "\\ud83d\\ude00", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"]',
      '\xef\xbb\xbf {"k" : "v" , "l":[ [ ] , { } ]}',
    ];
    const alphabet = '{}[]:,"\\ u0123456789abcdefABCDEF.eE+-truefalsn\t\n\r\x01\x1f\x7f\x80\xbf\xc2\xc3\xe0\xed\xef\xbb\xf0\xf4\xf5\xff';
    let seed = 12345;
    const rand = (k: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return (seed >>> 8) % k;
    };
    let checked = 0;
    let failures = 0;
    for (let iter = 0; iter < 20000; iter++) {
      let t = seeds[rand(seeds.length)]!;
      for (let m = rand(3) + 1; m > 0; m--) {
        const p = rand(t.length + 1);
        const c = alphabet[rand(alphabet.length)]!;
        switch (rand(4)) {
          case 0: t = t.slice(0, p) + t.slice(p + 1); break;
          case 1: t = t.slice(0, p) + c + t.slice(p); break;
          case 2: t = t.slice(0, p) + c + t.slice(p + 1); break;
          default: t = t.slice(0, p);
        }
      }
      const expected = jsonSyntaxError(t);
      const o = outcome(t);
      // a Nix error of the value itself (an integer too large, a null byte) may come first
      const nixOwn = o.error !== undefined && !o.error.startsWith('[json.exception.');
      if (expected === null) expect([t, o.error !== undefined && !nixOwn]).toEqual([t, false]);
      else if (!nixOwn) expect([t, o.error]).toEqual([t, expected]);
      if (expected !== null) failures++;
      checked++;
    }
    expect(checked).toBe(20000);
    // (the mutations make both kinds of text)
    expect(failures).toBeGreaterThan(5000);
    expect(failures).toBeLessThan(19900);
  });
});

describe('fromJSON: the frames of its errors', () => {
  function render(text: string): string {
    const settings = new Settings();
    settings.set('show-trace', 'true', 'test');
    const st = new EvalState({ settings, stderr: () => {}, env: { HOME: '/fake-home' } });
    try {
      forceDeep(st.evalString(toBytes(text), toBytes('«string»'), '/'));
    } catch (e) {
      if (e instanceof NixError) return Buffer.from(renderError(e, true), 'latin1').toString('utf8');
      throw e;
    }
    throw new Error('no error');
  }

  it('a JSON error is framed "while decoding a JSON string"', () => {
    expect(render('builtins.fromJSON "[1,2"')).toBe(
      [
        'error:',
        "       … while calling the 'fromJSON' builtin",
        '         at «string»:1:1:',
        '            1| builtins.fromJSON "[1,2"',
        '             | ^',
        '',
        // (CppNix gives this frame the call's position, which, as for the
        // argument frames, is not printed again: see callPrimOp)
        '       … while decoding a JSON string',
        '',
        "       error: [json.exception.parse_error.101] parse error at line 1, column 5: syntax error while parsing array - unexpected end of input; expected ']'",
      ].join('\n'),
    );
  });

  it('so is a number too large for a float; Nix’s own errors are not', () => {
    expect(render('builtins.fromJSON "[1e400]"')).toContain('… while decoding a JSON string\n\n');
    expect(render('builtins.fromJSON "[1e400]"')).toContain("error: [json.exception.out_of_range.406] number overflow parsing '1e400'");
    expect(render('builtins.fromJSON "18446744073709551615"')).not.toContain('decoding');
  });
});

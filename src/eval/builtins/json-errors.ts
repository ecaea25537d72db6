// The exact message of a fromJSON syntax error.
//
// CppNix parses JSON with nlohmann::json, whose errors name the parser's
// context ("while parsing array", "object key", …), the token it found, the
// token it expected, the lexer's own complaint and the raw text the lexer read
// since its last string or number ("last read: '…'"), at a line and column
// counted the way its lexer counts them (a newline starts column 0; the end
// of the input counts as a character).  tsnix's fast parser (json.ts) only
// finds *that* the text is wrong; this module then reads the whole text again
// the way nlohmann's lexer and SAX parser do and words the first error as they
// do.  It is only run on text that failed, so it is written for exactness,
// not speed.  (Written from nlohmann::json's documented behaviour and checked
// message by message against CppNix; see test/lang/json-errors.test.ts.)

const EOF = -1;

const enum Tok {
  Uninitialized,
  True,
  False,
  Null,
  String,
  Unsigned,
  Integer,
  Float,
  BeginArray,
  BeginObject,
  EndArray,
  EndObject,
  NameSeparator,
  ValueSeparator,
  ParseError,
  EndOfInput,
  LiteralOrValue,
}

const TOKEN_NAMES: Record<Tok, string> = {
  [Tok.Uninitialized]: '<uninitialized>',
  [Tok.True]: 'true literal',
  [Tok.False]: 'false literal',
  [Tok.Null]: 'null literal',
  [Tok.String]: 'string literal',
  [Tok.Unsigned]: 'number literal',
  [Tok.Integer]: 'number literal',
  [Tok.Float]: 'number literal',
  [Tok.BeginArray]: "'['",
  [Tok.BeginObject]: "'{'",
  [Tok.EndArray]: "']'",
  [Tok.EndObject]: "'}'",
  [Tok.NameSeparator]: "':'",
  [Tok.ValueSeparator]: "','",
  [Tok.ParseError]: '<parse error>',
  [Tok.EndOfInput]: 'end of input',
  [Tok.LiteralOrValue]: "'[', '{', or a literal",
};

/** Names of the control characters U+0000..U+001F, with their short escapes. */
const CONTROL = [
  'NUL', 'SOH', 'STX', 'ETX', 'EOT', 'ENQ', 'ACK', 'BEL', 'BS', 'HT', 'LF', 'VT', 'FF', 'CR', 'SO', 'SI',
  'DLE', 'DC1', 'DC2', 'DC3', 'DC4', 'NAK', 'SYN', 'ETB', 'CAN', 'EM', 'SUB', 'ESC', 'FS', 'GS', 'RS', 'US',
];
const SHORT_ESCAPE: Record<number, string> = { 8: '\\b', 9: '\\t', 10: '\\n', 12: '\\f', 13: '\\r' };

const hex4 = (c: number): string => c.toString(16).toUpperCase().padStart(4, '0');

const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/**
 * The message nlohmann::json gives for `text` (a byte string), or null when it
 * parses: "[json.exception.parse_error.101] parse error at line L, column C:
 * syntax error while parsing …", or the out_of_range.406 of a number too
 * large for a double.
 */
export function jsonSyntaxError(text: string): string | null {
  const n = text.length;
  let at = 0; // next byte to read
  let current = EOF;
  let ungot = false;
  let charsTotal = 0;
  let charsLine = 0;
  let lines = 0;
  let read: number[] = []; // "token_string": the bytes read since the last reset
  let lexError = '';

  const get = (): number => {
    charsTotal++;
    charsLine++;
    if (ungot) ungot = false;
    else current = at < n ? text.charCodeAt(at++) : EOF;
    if (current !== EOF) read.push(current);
    if (current === 0x0a) {
      lines++;
      charsLine = 0;
    }
    return current;
  };
  const unget = (): void => {
    ungot = true;
    charsTotal--;
    if (charsLine === 0) {
      if (lines > 0) lines--;
    } else charsLine--;
    if (current !== EOF) read.pop();
  };
  const reset = (): void => {
    read = [current];
  };
  const lastRead = (): string => {
    let s = '';
    for (const c of read) s += c <= 0x1f ? `<U+${hex4(c)}>` : String.fromCharCode(c);
    return s;
  };

  const literal = (word: string, tok: Tok): Tok => {
    for (let i = 1; i < word.length; i++) {
      if (get() !== word.charCodeAt(i)) {
        lexError = 'invalid literal';
        return Tok.ParseError;
      }
    }
    return tok;
  };

  /** Four hex digits after `\u`: the code point, or -1 at the first other byte. */
  const codepoint = (): number => {
    let cp = 0;
    for (let k = 0; k < 4; k++) {
      const c = get();
      let d: number;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
      else return -1;
      cp = cp * 16 + d;
    }
    return cp;
  };

  /** The continuation bytes of a UTF-8 sequence, each within its range. */
  const continuation = (ranges: number[]): boolean => {
    for (let i = 0; i < ranges.length; i += 2) {
      const c = get();
      if (!(c >= ranges[i]! && c <= ranges[i + 1]!)) {
        lexError = 'invalid string: ill-formed UTF-8 byte';
        return false;
      }
    }
    return true;
  };

  const string = (): Tok => {
    reset();
    for (;;) {
      const c = get();
      if (c === EOF) {
        lexError = 'invalid string: missing closing quote';
        return Tok.ParseError;
      }
      if (c === 0x22) return Tok.String;
      if (c === 0x5c) {
        const d = get();
        if (d === 0x75) {
          const cp1 = codepoint();
          if (cp1 === -1) {
            lexError = "invalid string: '\\u' must be followed by 4 hex digits";
            return Tok.ParseError;
          }
          if (cp1 >= 0xd800 && cp1 <= 0xdbff) {
            if (get() === 0x5c && get() === 0x75) {
              const cp2 = codepoint();
              if (cp2 === -1) {
                lexError = "invalid string: '\\u' must be followed by 4 hex digits";
                return Tok.ParseError;
              }
              if (!(cp2 >= 0xdc00 && cp2 <= 0xdfff)) {
                lexError = 'invalid string: surrogate U+D800..U+DBFF must be followed by U+DC00..U+DFFF';
                return Tok.ParseError;
              }
            } else {
              lexError = 'invalid string: surrogate U+D800..U+DBFF must be followed by U+DC00..U+DFFF';
              return Tok.ParseError;
            }
          } else if (cp1 >= 0xdc00 && cp1 <= 0xdfff) {
            lexError = 'invalid string: surrogate U+DC00..U+DFFF must follow U+D800..U+DBFF';
            return Tok.ParseError;
          }
          continue;
        }
        if (d === 0x22 || d === 0x5c || d === 0x2f || d === 0x62 || d === 0x66 || d === 0x6e || d === 0x72 || d === 0x74) continue;
        lexError = 'invalid string: forbidden character after backslash';
        return Tok.ParseError;
      }
      if (c <= 0x1f) {
        const short = SHORT_ESCAPE[c];
        lexError = `invalid string: control character U+${hex4(c)} (${CONTROL[c]}) must be escaped to \\u${hex4(c)}${short ? ' or ' + short : ''}`;
        return Tok.ParseError;
      }
      if (c <= 0x7f) continue;
      let ok: boolean;
      if (c >= 0xc2 && c <= 0xdf) ok = continuation([0x80, 0xbf]);
      else if (c === 0xe0) ok = continuation([0xa0, 0xbf, 0x80, 0xbf]);
      else if ((c >= 0xe1 && c <= 0xec) || c === 0xee || c === 0xef) ok = continuation([0x80, 0xbf, 0x80, 0xbf]);
      else if (c === 0xed) ok = continuation([0x80, 0x9f, 0x80, 0xbf]);
      else if (c === 0xf0) ok = continuation([0x90, 0xbf, 0x80, 0xbf, 0x80, 0xbf]);
      else if (c >= 0xf1 && c <= 0xf3) ok = continuation([0x80, 0xbf, 0x80, 0xbf, 0x80, 0xbf]);
      else if (c === 0xf4) ok = continuation([0x80, 0x8f, 0x80, 0xbf, 0x80, 0xbf]);
      else {
        lexError = 'invalid string: ill-formed UTF-8 byte';
        ok = false;
      }
      if (!ok) return Tok.ParseError;
    }
  };

  const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

  const number = (): Tok => {
    reset();
    let kind = Tok.Unsigned;
    let c = current;
    if (c === 0x2d) {
      kind = Tok.Integer;
      c = get();
      if (!isDigit(c)) {
        lexError = "invalid number; expected digit after '-'";
        return Tok.ParseError;
      }
    }
    // c is the first digit
    if (c !== 0x30) while (isDigit((c = get())));
    else c = get();
    if (c === 0x2e) {
      kind = Tok.Float;
      if (!isDigit(get())) {
        lexError = "invalid number; expected digit after '.'";
        return Tok.ParseError;
      }
      while (isDigit((c = get())));
    }
    if (c === 0x65 || c === 0x45) {
      kind = Tok.Float;
      c = get();
      if (c === 0x2b || c === 0x2d) {
        if (!isDigit(get())) {
          lexError = 'invalid number; expected digit after exponent sign';
          return Tok.ParseError;
        }
      } else if (!isDigit(c)) {
        lexError = "invalid number; expected '+', '-', or digit after exponent";
        return Tok.ParseError;
      }
      while (isDigit(get()));
    }
    unget();
    // integers that do not fit 64 bits are read as floats
    if (kind === Tok.Unsigned && BigInt(lastRead()) > UINT64_MAX) kind = Tok.Float;
    if (kind === Tok.Integer && BigInt(lastRead()) < -INT64_MAX - 1n) kind = Tok.Float;
    return kind;
  };

  const scan = (): Tok => {
    if (charsTotal === 0) {
      // a byte order mark may come first
      if (get() === 0xef) {
        if (!(get() === 0xbb && get() === 0xbf)) {
          lexError = 'invalid BOM; must be 0xEF 0xBB 0xBF if given';
          return Tok.ParseError;
        }
      } else unget();
    }
    let c: number;
    do c = get();
    while (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d);
    switch (c) {
      case 0x5b:
        return Tok.BeginArray;
      case 0x5d:
        return Tok.EndArray;
      case 0x7b:
        return Tok.BeginObject;
      case 0x7d:
        return Tok.EndObject;
      case 0x3a:
        return Tok.NameSeparator;
      case 0x2c:
        return Tok.ValueSeparator;
      case 0x74:
        return literal('true', Tok.True);
      case 0x66:
        return literal('false', Tok.False);
      case 0x6e:
        return literal('null', Tok.Null);
      case 0x22:
        return string();
      case 0x00:
      case EOF:
        return Tok.EndOfInput;
      default:
        if (c === 0x2d || isDigit(c)) return number();
        lexError = 'invalid literal';
        return Tok.ParseError;
    }
  };

  let last = Tok.Uninitialized as Tok;
  const next = (): Tok => (last = scan());
  const tok = (): Tok => last; // (read through a call: `next` changes it behind TypeScript's back)

  const parseError = (text: string): string => `[json.exception.parse_error.101] parse error at line ${lines + 1}, column ${charsLine}: ${text}`;
  const syntax = (expected: Tok, context: string): string => {
    let msg = `syntax error while parsing ${context} - `;
    msg += last === Tok.ParseError ? `${lexError}; last read: '${lastRead()}'` : `unexpected ${TOKEN_NAMES[last]}`;
    if (expected !== Tok.Uninitialized) msg += `; expected ${TOKEN_NAMES[expected]}`;
    return parseError(msg);
  };

  /** After `{` or `,` in an object, at its key: the key, `:` and the value's first token (or the error). */
  const member = (): string | null => {
    if (tok() !== Tok.String) return syntax(Tok.String, 'object key');
    if (next() !== Tok.NameSeparator) return syntax(Tok.NameSeparator, 'object separator');
    next();
    return null;
  };

  next();
  const states: boolean[] = []; // true: in an array, false: in an object
  for (;;) {
    // a value starts at `last`
    let done = false;
    switch (last) {
      case Tok.BeginObject: {
        if (next() === Tok.EndObject) {
          done = true;
          break;
        }
        const err = member();
        if (err !== null) return err;
        states.push(false);
        continue;
      }
      case Tok.BeginArray:
        if (next() === Tok.EndArray) {
          done = true;
          break;
        }
        states.push(true);
        continue;
      case Tok.Float:
        // (the lexer's text is still the number's)
        if (!Number.isFinite(Number(lastRead()))) return `[json.exception.out_of_range.406] number overflow parsing '${lastRead()}'`;
        done = true;
        break;
      case Tok.True:
      case Tok.False:
      case Tok.Null:
      case Tok.String:
      case Tok.Unsigned:
      case Tok.Integer:
        done = true;
        break;
      case Tok.ParseError:
        return syntax(Tok.Uninitialized, 'value');
      case Tok.EndOfInput:
        if (charsTotal === 1) return parseError('attempting to parse an empty input; check that your input string or stream contains the expected JSON');
        return syntax(Tok.LiteralOrValue, 'value');
      default:
        return syntax(Tok.LiteralOrValue, 'value');
    }
    if (!done) continue;
    // a value was read: close the arrays and objects it ends
    let more = false;
    while (states.length > 0 && !more) {
      if (states[states.length - 1]) {
        if (next() === Tok.ValueSeparator) {
          next();
          more = true;
        } else if (tok() === Tok.EndArray) states.pop();
        else return syntax(Tok.EndArray, 'array');
      } else if (next() === Tok.ValueSeparator) {
        next();
        const err = member();
        if (err !== null) return err;
        more = true;
      } else if (tok() === Tok.EndObject) states.pop();
      else return syntax(Tok.EndObject, 'object');
    }
    if (more) continue;
    if (next() !== Tok.EndOfInput) return syntax(Tok.EndOfInput, 'value');
    return null;
  }
}

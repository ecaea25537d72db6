// The command line as the bytes it was given.
//
// Node decodes its arguments as UTF-8 and turns every invalid byte into
// U+FFFD, so `-E "$(printf '"\377"')"` would reach the evaluator as three
// other bytes.  CppNix takes arguments as bytes.  On Linux the original bytes
// are in /proc/self/cmdline; an argument whose bytes are not valid UTF-8 is
// decoded here with each invalid byte b as the lone surrogate U+DC00 + b
// (Python's "surrogateescape"), which toBytes turns back into b.

import fs from 'node:fs';

/** process.argv.slice(2), with the exact bytes of arguments that are not valid UTF-8. */
export function commandLineArgs(): string[] {
  const args = process.argv.slice(2);
  if (!args.some((a) => a.includes('\ufffd'))) return args;
  let raw: Buffer;
  try {
    raw = fs.readFileSync('/proc/self/cmdline');
  } catch {
    return args;
  }
  // NUL-terminated entries: node, its options, the script, then the arguments
  const entries: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0) {
      entries.push(raw.subarray(start, i));
      start = i + 1;
    }
  }
  if (entries.length < args.length) return args;
  const tail = entries.slice(entries.length - args.length);
  return args.map((a, i) => {
    const bytes = tail[i]!;
    // (bytes that do not decode to node's argument mean cmdline is not what we think: keep node's)
    return bytes.toString('utf8') === a ? decodeSurrogateEscape(bytes) : a;
  });
}

/** UTF-8 decoding in which each byte that is not part of a valid sequence becomes U+DC00 + byte. */
export function decodeSurrogateEscape(b: Uint8Array): string {
  let out = '';
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      out += String.fromCharCode(c);
      i++;
      continue;
    }
    const n = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    let cp = n === 1 ? c & 0x1f : n === 2 ? c & 0x0f : c & 0x07;
    let ok = n > 0;
    for (let k = 1; ok && k <= n; k++) {
      const d = b[i + k];
      if (d === undefined || (d & 0xc0) !== 0x80) ok = false;
      else cp = (cp << 6) | (d & 0x3f);
    }
    // no overlong forms, surrogates or code points past U+10FFFF
    if (ok && ((n === 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n === 3 && (cp < 0x10000 || cp > 0x10ffff)))) ok = false;
    if (ok) {
      out += String.fromCodePoint(cp);
      i += n + 1;
    } else {
      out += String.fromCharCode(0xdc00 + c);
      i++;
    }
  }
  return out;
}

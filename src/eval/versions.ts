/**
 * Version strings as CppNix understands them (`builtins.splitVersion`,
 * `builtins.compareVersions`, `builtins.parseDrvName`, `nix-env -u`).
 *
 * Strings are Nix byte strings (one char per byte).  Character tests are the
 * C-locale ones, so only ASCII digits and letters count.
 *
 * - A version is a sequence of components.  `.` and `-` separate components
 *   (any run of them); between separators, a component is either a maximal
 *   run of digits or a maximal run of other characters, so "2.3a" is
 *   [ "2" "3" "a" ].
 * - Components compare as follows: two numbers numerically (a digit run that
 *   does not fit in a 32-bit signed int is *not* a number and compares as a
 *   string); "" (a missing component) is older than a number; "pre" is older
 *   than anything but "pre"; a non-number is older than a number; two
 *   non-numbers compare bytewise.  The shorter version is padded with "".
 */

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isAlpha(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

function isSep(c: number): boolean {
  return c === 0x2e /* . */ || c === 0x2d /* - */;
}

/**
 * Reads the component starting at or after `pos`; returns it and the
 * position after it ("" at the end of the string).
 */
function nextComponent(s: string, pos: number): [string, number] {
  const n = s.length;
  while (pos < n && isSep(s.charCodeAt(pos))) pos++;
  if (pos >= n) return ['', pos];
  const start = pos;
  if (isDigit(s.charCodeAt(pos))) {
    while (pos < n && isDigit(s.charCodeAt(pos))) pos++;
  } else {
    while (pos < n) {
      const c = s.charCodeAt(pos);
      if (isDigit(c) || isSep(c)) break;
      pos++;
    }
  }
  return [s.slice(start, pos), pos];
}

const INT_MAX = 2147483647;

/** The numeric value of an all-digit component that fits an `int`, else null. */
function asInt(c: string): number | null {
  if (c.length === 0 || !isDigit(c.charCodeAt(0))) return null;
  let v = 0;
  for (let i = 0; i < c.length; i++) {
    v = v * 10 + (c.charCodeAt(i) - 0x30);
    if (v > INT_MAX) return null;
  }
  return v;
}

/** Bytewise comparison of byte strings. */
function byteLess(a: string, b: string): boolean {
  return a < b; // UTF-16 code units 0..255 order like unsigned bytes
}

/** Whether component `a` is older than component `b`. */
function componentLess(a: string, b: string): boolean {
  const na = asInt(a);
  const nb = asInt(b);
  if (na !== null && nb !== null) return na < nb;
  if (a === '' && nb !== null) return true;
  if (a === 'pre' && b !== 'pre') return true;
  if (b === 'pre') return false;
  // "2.3a" < "2.3.1": anything else is older than a number.
  if (nb !== null) return true;
  if (na !== null) return false;
  return byteLess(a, b);
}

/** `builtins.splitVersion`. */
export function splitVersion(s: string): string[] {
  const out: string[] = [];
  let pos = 0;
  while (pos < s.length) {
    const [c, p] = nextComponent(s, pos);
    if (c === '') break;
    out.push(c);
    pos = p;
  }
  return out;
}

/** `builtins.compareVersions`: -1 if a is older than b, 1 if newer, else 0. */
export function compareVersions(a: string, b: string): -1 | 0 | 1 {
  let pa = 0;
  let pb = 0;
  while (pa < a.length || pb < b.length) {
    const [ca, na] = nextComponent(a, pa);
    const [cb, nb] = nextComponent(b, pb);
    pa = na;
    pb = nb;
    if (componentLess(ca, cb)) return -1;
    if (componentLess(cb, ca)) return 1;
  }
  return 0;
}

/**
 * `builtins.parseDrvName`: the name ends at the first "-" that is followed by
 * something other than an ASCII letter; the rest is the version.
 */
export function parseDrvName(s: string): { name: string; version: string } {
  for (let i = 0; i + 1 < s.length; i++) {
    if (s.charCodeAt(i) === 0x2d && !isAlpha(s.charCodeAt(i + 1))) {
      return { name: s.slice(0, i), version: s.slice(i + 1) };
    }
  }
  return { name: s, version: '' };
}

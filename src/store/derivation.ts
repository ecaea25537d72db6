/**
 * Derivations as the store sees them: a plain record, its ATerm form (the
 * contents of a .drv file), the ATerm parser, hashDerivationModulo, the
 * computation of output paths and of the .drv path, and the JSON of
 * `nix show-derivation` (Nix 2.8) and of `nix derivation show` (CppNix 2.34:
 * derivation JSON format version 4).
 *
 * All strings are byte strings (one char code per byte), as Nix strings are;
 * the ATerm text is one too (write it with Buffer.from(text, 'latin1')).
 */
import { BadHashError, Hash, parseHash, parseHashAlgo, sha256, type HashAlgo } from './hash.js';
import {
  DEFAULT_STORE_DIR,
  compareBytes,
  makeFixedOutputPath,
  makeOutputPath,
  makeTextPath,
  type FileIngestionMethod,
} from './store-path.js';

/**
 * One output as the ATerm holds it. `hashAlgo` is `[r:]algo` (e.g. `r:sha256`)
 * and `hash` base16, both only for content-addressed outputs; `path` is ''
 * for floating content-addressed and deferred outputs.
 */
export interface DerivationOutput {
  path: string;
  hashAlgo?: string;
  hash?: string;
}

export interface Derivation {
  /** The derivation's name (the .drv's name without `.drv`). */
  name: string;
  outputs: Map<string, DerivationOutput>;
  /** .drv path -> the outputs used. */
  inputDrvs: Map<string, Set<string>>;
  inputSrcs: Set<string>;
  /** `system` */
  platform: string;
  builder: string;
  args: string[];
  env: Map<string, string>;
}

export class DerivationParseError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'DerivationParseError';
  }
}

export class DerivationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DerivationError';
  }
}

// ---------------------------------------------------------------------------
// Printing

const NEEDS_ESCAPE = /["\\\n\r\t]/;
const ESCAPES = /["\\\n\r\t]/g;
const ESCAPE_MAP: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** An ATerm string literal: escapes only `"`, `\`, newline, CR and tab. */
export function atermString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? `"${s.replace(ESCAPES, (c) => ESCAPE_MAP[c] as string)}"` : `"${s}"`;
}

// (`.sort()` without a comparator orders strings by UTF-16 code units: for
// byte strings that is byte order, and it is faster than a JS comparator)
function sortedKeys<K extends string>(m: { keys(): Iterable<K> }): K[] {
  return [...m.keys()].sort();
}

function stringList(xs: Iterable<string>): string {
  let out = '[';
  let first = true;
  for (const x of xs) {
    if (!first) out += ',';
    first = false;
    out += atermString(x);
  }
  return out + ']';
}

export interface PrintOptions {
  /** Print output paths, and env entries named after outputs, as "". */
  maskOutputs?: boolean;
  /** Print these inputDrvs instead of drv.inputDrvs (hashDerivationModulo uses this). */
  inputDrvs?: Map<string, Set<string>>;
}

/**
 * The ATerm `Derive(...)` of a derivation, byte-exact with Nix: outputs,
 * inputDrvs, output sets, inputSrcs and env sorted bytewise; no trailing newline.
 */
export function printDerivation(drv: Derivation, opts: PrintOptions = {}): string {
  const mask = opts.maskOutputs === true;
  const parts: string[] = [];
  parts.push('Derive([');
  let first = true;
  for (const name of sortedKeys(drv.outputs)) {
    const o = drv.outputs.get(name) as DerivationOutput;
    if (!first) parts.push(',');
    first = false;
    parts.push(
      '(',
      atermString(name),
      ',',
      atermString(mask ? '' : o.path),
      ',',
      atermString(o.hashAlgo ?? ''),
      ',',
      atermString(o.hash ?? ''),
      ')',
    );
  }
  parts.push('],[');
  const inputDrvs = opts.inputDrvs ?? drv.inputDrvs;
  first = true;
  for (const p of sortedKeys(inputDrvs)) {
    if (!first) parts.push(',');
    first = false;
    const outs = [...(inputDrvs.get(p) as Set<string>)].sort();
    parts.push('(', atermString(p), ',', stringList(outs), ')');
  }
  parts.push('],', stringList([...drv.inputSrcs].sort()));
  parts.push(',', atermString(drv.platform), ',', atermString(drv.builder), ',', stringList(drv.args), ',[');
  first = true;
  for (const k of sortedKeys(drv.env)) {
    if (!first) parts.push(',');
    first = false;
    const v = mask && drv.outputs.has(k) ? '' : (drv.env.get(k) as string);
    parts.push('(', atermString(k), ',', atermString(v), ')');
  }
  parts.push('])');
  return parts.join('');
}

// ---------------------------------------------------------------------------
// Parsing

class AtermReader {
  pos = 0;
  constructor(
    readonly s: string,
    readonly drvName: string,
  ) {}

  fail(what: string, at = this.pos): never {
    const found =
      at >= this.s.length ? 'end of input' : `'${this.s.slice(at, at + 10).replace(/[\x00-\x1f]/g, '?')}'`;
    throw new DerivationParseError(
      `error parsing derivation '${this.drvName}': expected ${what} at byte ${at}, found ${found}`,
      at,
    );
  }

  expect(lit: string): void {
    if (!this.s.startsWith(lit, this.pos)) this.fail(`'${lit}'`);
    this.pos += lit.length;
  }

  /** Consume `c` if it is next. */
  eat(c: string): boolean {
    if (this.s[this.pos] === c) {
      this.pos++;
      return true;
    }
    return false;
  }

  str(): string {
    if (this.s.charCodeAt(this.pos) !== 0x22) this.fail('a string (\'"\')');
    const start = ++this.pos;
    const s = this.s;
    // Fast path: no escapes.
    const q = s.indexOf('"', start);
    const b = s.indexOf('\\', start);
    if (q >= 0 && (b < 0 || b > q)) {
      this.pos = q + 1;
      return s.slice(start, q);
    }
    let out = '';
    let i = start;
    for (;;) {
      if (i >= s.length) this.fail("the end of a string ('\"')", s.length);
      const c = s.charCodeAt(i);
      if (c === 0x22) break;
      if (c === 0x5c) {
        i++;
        if (i >= s.length) this.fail('an escaped character', i);
        const e = s[i] as string;
        out += e === 'n' ? '\n' : e === 'r' ? '\r' : e === 't' ? '\t' : e;
        i++;
      } else {
        let j = i + 1;
        while (j < s.length && s.charCodeAt(j) !== 0x22 && s.charCodeAt(j) !== 0x5c) j++;
        out += s.slice(i, j);
        i = j;
      }
    }
    this.pos = i + 1;
    return out;
  }

  /** An absolute path string. */
  path(): string {
    const at = this.pos;
    const p = this.str();
    if (!p.startsWith('/')) this.fail('an absolute path', at);
    return p;
  }

  /** `[` item (`,` item)* `]` */
  list<T>(item: () => T): T[] {
    this.expect('[');
    const out: T[] = [];
    if (this.eat(']')) return out;
    for (;;) {
      out.push(item());
      if (this.eat(']')) return out;
      this.expect(',');
    }
  }
}

/**
 * Parse the ATerm text of a .drv. `name` is the derivation name (the .drv's
 * name without `.drv`); it is not part of the text. Throws
 * DerivationParseError with the byte offset of the problem.
 */
export function parseDerivation(text: string, name: string): Derivation {
  const r = new AtermReader(text, name);
  r.expect('Derive(');
  const outputs = new Map<string, DerivationOutput>();
  r.list(() => {
    r.expect('(');
    const id = r.str();
    r.expect(',');
    const pathAt = r.pos;
    const path = r.str();
    if (path !== '' && !path.startsWith('/')) r.fail('an absolute path or ""', pathAt);
    r.expect(',');
    const hashAlgo = r.str();
    r.expect(',');
    const hash = r.str();
    r.expect(')');
    const o: DerivationOutput = { path };
    if (hashAlgo !== '') o.hashAlgo = hashAlgo;
    if (hash !== '') o.hash = hash;
    outputs.set(id, o);
  });
  r.expect(',');
  const inputDrvs = new Map<string, Set<string>>();
  r.list(() => {
    r.expect('(');
    const p = r.path();
    r.expect(',');
    const outs = r.list(() => r.str());
    r.expect(')');
    inputDrvs.set(p, new Set(outs));
  });
  r.expect(',');
  const inputSrcs = new Set(r.list(() => r.path()));
  r.expect(',');
  const platform = r.str();
  r.expect(',');
  const builder = r.str();
  r.expect(',');
  const args = r.list(() => r.str());
  r.expect(',');
  const env = new Map<string, string>();
  r.list(() => {
    r.expect('(');
    const k = r.str();
    r.expect(',');
    const v = r.str();
    r.expect(')');
    env.set(k, v);
  });
  r.expect(')');
  if (r.pos !== text.length) r.fail('the end of the derivation');
  return { name, outputs, inputDrvs, inputSrcs, platform, builder, args, env };
}

/** The derivation name of a .drv path: the part after the hash, without `.drv`. */
export function drvNameFromPath(drvPath: string): string {
  const base = drvPath.slice(drvPath.lastIndexOf('/') + 1);
  const name = base.slice(33);
  return name.endsWith('.drv') ? name.slice(0, -4) : name;
}

// ---------------------------------------------------------------------------
// Kinds of outputs

export type OutputKind = 'inputAddressed' | 'fixed' | 'floating' | 'deferred';

/** What an output is, from the fields the ATerm holds. */
export function outputKind(o: DerivationOutput): OutputKind {
  if (o.hash !== undefined && o.hash !== '') return 'fixed';
  if (o.hashAlgo !== undefined && o.hashAlgo !== '') return 'floating';
  if (o.path === '') return 'deferred';
  return 'inputAddressed';
}

/** Split `[r:]algo` into its ingestion method and algorithm. */
export function parseOutputHashAlgo(hashAlgo: string): { method: FileIngestionMethod; algo: HashAlgo } {
  if (hashAlgo.startsWith('r:')) return { method: 'recursive', algo: parseHashAlgo(hashAlgo.slice(2)) };
  return { method: 'flat', algo: parseHashAlgo(hashAlgo) };
}

/** A fixed-output derivation: a single output `out` with a fixed hash. */
export function isFixedOutput(drv: Derivation): boolean {
  if (drv.outputs.size !== 1) return false;
  const out = drv.outputs.get('out');
  return out !== undefined && outputKind(out) === 'fixed';
}

/** Any output content-addressed but not fixed (`__contentAddressed`). */
export function isFloatingContentAddressed(drv: Derivation): boolean {
  for (const o of drv.outputs.values()) if (outputKind(o) === 'floating') return true;
  return false;
}

/** The references of a .drv file: inputSrcs and the inputDrvs' paths. */
export function derivationReferences(drv: Derivation): string[] {
  const refs = new Set<string>(drv.inputSrcs);
  for (const p of drv.inputDrvs.keys()) refs.add(p);
  return [...refs].sort();
}

/** The store path of the .drv file: a text path of the ATerm with its references. */
export function computeDrvPath(drv: Derivation, storeDir: string = DEFAULT_STORE_DIR): string {
  return makeTextPath(`${drv.name}.drv`, sha256(printDerivation(drv)), derivationReferences(drv), storeDir);
}

// ---------------------------------------------------------------------------
// hashDerivationModulo

/**
 * The result of hashDerivationModulo:
 * - `fixed`: a fixed-output derivation; one hash per output,
 *   sha256("fixed:out:<hashAlgo>:<hash>:<path>").
 * - `regular`: sha256 of the ATerm with each input .drv replaced by its own
 *   modulo hash; the hash of every output.
 * - `deferred`: like regular, but the derivation (or an input) is floating
 *   content-addressed, so its output paths are not known yet.
 */
export type DrvHashModulo =
  | { kind: 'fixed'; outputHashes: Map<string, Hash> }
  | { kind: 'regular' | 'deferred'; hash: Hash };

export interface DrvHashContext {
  /** The derivation stored at a .drv path (from the store, or the evaluator's cache). */
  readDerivation(drvPath: string): Derivation;
  /** Results by .drv path; filled as inputs are hashed. Share it across calls. */
  memo?: Map<string, DrvHashModulo>;
}

/** The modulo hash of one output of a hashDerivationModulo result. */
export function drvHashForOutput(res: DrvHashModulo, outputName: string, drvPath = ''): Hash {
  if (res.kind !== 'fixed') return res.hash;
  const h = res.outputHashes.get(outputName);
  if (!h) throw new DerivationError(`derivation '${drvPath}' has no output '${outputName}'`);
  return h;
}

/**
 * hashDerivationModulo: a hash of a derivation that does not change when
 * only the way a fixed-output input is produced changes. With `maskOutputs`
 * the derivation's own output paths (and env entries named after outputs)
 * are hashed as "" — the form used to compute input-addressed output paths.
 */
export function hashDerivationModulo(drv: Derivation, ctx: DrvHashContext, maskOutputs = false): DrvHashModulo {
  if (isFixedOutput(drv)) {
    const outputHashes = new Map<string, Hash>();
    for (const [name, o] of drv.outputs) {
      outputHashes.set(name, sha256(`fixed:out:${o.hashAlgo ?? ''}:${o.hash ?? ''}:${o.path}`));
    }
    return { kind: 'fixed', outputHashes };
  }
  let deferred = isFloatingContentAddressed(drv);
  const inputs2 = new Map<string, Set<string>>();
  for (const drvPath of sortedKeys(drv.inputDrvs)) {
    const outputs = drv.inputDrvs.get(drvPath) as Set<string>;
    const res = pathDerivationModulo(drvPath, ctx);
    if (res.kind === 'deferred') deferred = true;
    for (const o of [...outputs].sort()) {
      const key = drvHashForOutput(res, o, drvPath).toBase16();
      let set = inputs2.get(key);
      if (!set) inputs2.set(key, (set = new Set()));
      set.add(o);
    }
  }
  const hash = sha256(printDerivation(drv, { maskOutputs, inputDrvs: inputs2 }));
  return { kind: deferred ? 'deferred' : 'regular', hash };
}

/** hashDerivationModulo of the derivation at a .drv path, memoised in ctx.memo. */
export function pathDerivationModulo(drvPath: string, ctx: DrvHashContext): DrvHashModulo {
  const cached = ctx.memo?.get(drvPath);
  if (cached) return cached;
  const res = hashDerivationModulo(ctx.readDerivation(drvPath), ctx, false);
  ctx.memo?.set(drvPath, res);
  return res;
}

/** A function reading derivations from a map of .drv path -> ATerm text (e.g. tests, caches). */
export function derivationReaderFromTexts(texts: ReadonlyMap<string, string> | Record<string, string>): (
  drvPath: string,
) => Derivation {
  const get = (p: string): string | undefined =>
    texts instanceof Map ? texts.get(p) : (texts as Record<string, string>)[p];
  return (drvPath) => {
    const t = get(drvPath);
    if (t === undefined) throw new DerivationError(`derivation '${drvPath}' is not known`);
    return parseDerivation(t, drvNameFromPath(drvPath));
  };
}

// ---------------------------------------------------------------------------
// Output paths

/** The path of a fixed-output derivation's output, from its `[r:]algo` and base16 hash. */
export function fixedOutputPathOf(drvName: string, o: DerivationOutput, storeDir: string = DEFAULT_STORE_DIR): string {
  if (o.hashAlgo === undefined || o.hash === undefined) {
    throw new DerivationError(`output of '${drvName}' is not fixed`);
  }
  const { method, algo } = parseOutputHashAlgo(o.hashAlgo);
  let h: Hash;
  try {
    h = parseHash(o.hash, algo);
  } catch (e) {
    if (e instanceof BadHashError) throw new DerivationError(`derivation '${drvName}': ${e.message}`);
    throw e;
  }
  return makeFixedOutputPath(drvName, method, h, storeDir);
}

/**
 * Fill in the output paths of a derivation whose outputs (and env entries
 * named after them) are still "" — what `derivation` does after it has
 * collected the attributes:
 * - fixed-output: the fixed-output path;
 * - floating content-addressed, or any input deferred: left "" (the env keeps
 *   whatever the caller put there, normally the placeholder);
 * - otherwise input-addressed: makeOutputPath(output, hashDerivationModulo(masked)).
 * Returns a new Derivation; the one given is not modified.
 */
export function fillInOutputPaths(
  drv: Derivation,
  ctx: DrvHashContext,
  storeDir: string = DEFAULT_STORE_DIR,
): Derivation {
  const outputs = new Map<string, DerivationOutput>();
  const env = new Map(drv.env);
  if (isFixedOutput(drv)) {
    const o = drv.outputs.get('out') as DerivationOutput;
    const path = fixedOutputPathOf(drv.name, o, storeDir);
    outputs.set('out', { ...o, path });
    env.set('out', path);
    return { ...drv, outputs, env };
  }
  const res = hashDerivationModulo(drv, ctx, true);
  for (const [name, o] of drv.outputs) {
    if (res.kind === 'regular' && outputKind({ ...o, path: 'x' }) === 'inputAddressed') {
      const path = makeOutputPath(name, drvHashForOutput(res, name), drv.name, storeDir);
      outputs.set(name, { ...o, path });
      env.set(name, path);
    } else {
      outputs.set(name, { ...o, path: '' });
    }
  }
  return { ...drv, outputs, env };
}

/** Output name -> path, for the outputs whose paths are known. */
export function outputPaths(drv: Derivation): Map<string, string> {
  const m = new Map<string, string>();
  for (const [name, o] of drv.outputs) if (o.path !== '') m.set(name, o.path);
  return m;
}

// ---------------------------------------------------------------------------
// `nix show-derivation` (Nix 2.8)

type Json = string | number | boolean | null | Json[] | { [k: string]: Json } | JsonObject;
/** An object with an explicit key order. */
class JsonObject {
  constructor(readonly entries: [string, Json][]) {}
}

const JSON_ESCAPE = /["\\\x00-\x1f]/g;

/** A JSON string as Nix 2.8 writes one: bytes raw, only `"`, `\` and control characters escaped. */
function nixJsonString(s: string): string {
  return (
    '"' +
    s.replace(JSON_ESCAPE, (c) => {
      switch (c) {
        case '"':
          return '\\"';
        case '\\':
          return '\\\\';
        case '\n':
          return '\\n';
        case '\r':
          return '\\r';
        case '\t':
          return '\\t';
        default:
          return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
      }
    }) +
    '"'
  );
}

function printJson(v: Json, indent: string): string {
  if (typeof v === 'string') return nixJsonString(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return JSON.stringify(v);
  const inner = indent + '  ';
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return `[\n${v.map((x) => inner + printJson(x, inner)).join(',\n')}\n${indent}]`;
  }
  const entries = v instanceof JsonObject ? v.entries : Object.entries(v);
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([k, x]) => `${inner}${nixJsonString(k)}: ${printJson(x, inner)}`).join(',\n')}\n${indent}}`;
}

function derivationJsonValue(drv: Derivation): JsonObject {
  const outputs: [string, Json][] = [];
  for (const name of sortedKeys(drv.outputs)) {
    const o = drv.outputs.get(name) as DerivationOutput;
    const e: [string, Json][] = [];
    if (o.path !== '') e.push(['path', o.path]);
    if (o.hashAlgo !== undefined && o.hashAlgo !== '') e.push(['hashAlgo', o.hashAlgo]);
    if (o.hash !== undefined && o.hash !== '') e.push(['hash', o.hash]);
    outputs.push([name, new JsonObject(e)]);
  }
  const inputDrvs: [string, Json][] = sortedKeys(drv.inputDrvs).map((p) => [
    p,
    [...(drv.inputDrvs.get(p) as Set<string>)].sort(compareBytes),
  ]);
  const env: [string, Json][] = sortedKeys(drv.env).map((k) => [k, drv.env.get(k) as string]);
  return new JsonObject([
    ['outputs', new JsonObject(outputs)],
    ['inputSrcs', [...drv.inputSrcs].sort(compareBytes)],
    ['inputDrvs', new JsonObject(inputDrvs)],
    ['system', drv.platform],
    ['builder', drv.builder],
    ['args', drv.args],
    ['env', new JsonObject(env)],
  ]);
}

/**
 * The output of Nix 2.8's `nix show-derivation`: a JSON object keyed by .drv
 * path, indented by two spaces, with a trailing newline. Strings are written
 * as their raw bytes (the result is a byte string); only `"`, `\` and control
 * characters are escaped (`\n`, `\r`, `\t`, otherwise `\u00XX`).
 */
export function showDerivationJson(drvs: Iterable<[drvPath: string, drv: Derivation]>): string {
  const entries: [string, Json][] = [];
  for (const [p, d] of drvs) entries.push([p, derivationJsonValue(d)]);
  return printJson(new JsonObject(entries), '') + '\n';
}

/** The show-derivation JSON of one derivation as a JS value (strings decoded from UTF-8). */
export function derivationToJson(drv: Derivation): Record<string, unknown> {
  const text = printJson(derivationJsonValue(drv), '');
  return JSON.parse(Buffer.from(text, 'latin1').toString('utf8')) as Record<string, unknown>;
}

// ---------------------------------------------------------------------------
// `nix derivation show` (CppNix 2.33 and later: derivation JSON format version 4)

/**
 * A JSON value as nlohmann::json holds it, for printing the way CppNix does:
 * strings are byte strings, integers are bigints (nlohmann keeps int64 /
 * uint64 exactly), floats are numbers, and objects are Maps whose keys are
 * printed in byte order (nlohmann's objects are std::maps).
 */
export type NlohmannJson = null | boolean | string | bigint | number | NlohmannJson[] | Map<string, NlohmannJson>;

/** nlohmann's error for a string that is not valid UTF-8 (its dump() refuses to print it). */
export class JsonUtf8Error extends Error {
  constructor(message: string) {
    super(`[json.exception.type_error.316] ${message}`);
    this.name = 'JsonUtf8Error';
  }
}

const HEX_UPPER = (b: number): string => b.toString(16).toUpperCase().padStart(2, '0');

/**
 * The byte length of the UTF-8 sequence starting at `i`, or the index of the
 * first byte that makes it invalid (as a negative number -1 - index), or
 * `Infinity` when the string ends inside the sequence. Rejects what
 * Hoehrmann's DFA (used by nlohmann) rejects: stray continuation bytes,
 * C0/C1 and F5..FF leads, overlong forms, surrogates, code points > U+10FFFF.
 */
function utf8SequenceAt(s: string, i: number): number {
  const b = s.charCodeAt(i);
  if (b < 0x80) return 1;
  let need: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (b >= 0xc2 && b <= 0xdf) need = 1;
  else if (b === 0xe0) (need = 2), (lo = 0xa0);
  else if (b === 0xed) (need = 2), (hi = 0x9f);
  else if (b >= 0xe1 && b <= 0xef) need = 2;
  else if (b === 0xf0) (need = 3), (lo = 0x90);
  else if (b === 0xf4) (need = 3), (hi = 0x8f);
  else if (b >= 0xf1 && b <= 0xf3) need = 3;
  else return -1 - i;
  for (let k = 1; k <= need; k++) {
    if (i + k >= s.length) return Infinity;
    const c = s.charCodeAt(i + k);
    if (c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) return -1 - (i + k);
  }
  return need + 1;
}

/**
 * A JSON string literal as nlohmann's dump() writes one (ensure_ascii off):
 * `"` `\` and the short escapes \b \f \n \r \t, other control characters as
 * lowercase `\u00xx`, everything else (DEL, non-ASCII) as its raw bytes.
 * Invalid UTF-8 is an error, as nlohmann's default (strict) handler makes it.
 */
function nlohmannString(s: string): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; ) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) {
      const n = utf8SequenceAt(s, i);
      if (n === Infinity) {
        throw new JsonUtf8Error(`incomplete UTF-8 string; last byte: 0x${HEX_UPPER(s.charCodeAt(s.length - 1))}`);
      }
      if (n < 0) {
        const at = -1 - n;
        throw new JsonUtf8Error(`invalid UTF-8 byte at index ${at}: 0x${HEX_UPPER(s.charCodeAt(at))}`);
      }
      i += n;
      continue;
    }
    let esc: string | undefined;
    if (c === 0x22) esc = '\\"';
    else if (c === 0x5c) esc = '\\\\';
    else if (c < 0x20) {
      esc =
        c === 0x08 ? '\\b'
        : c === 0x0c ? '\\f'
        : c === 0x0a ? '\\n'
        : c === 0x0d ? '\\r'
        : c === 0x09 ? '\\t'
        : `\\u${c.toString(16).padStart(4, '0')}`;
    }
    if (esc !== undefined) {
      out += s.slice(start, i) + esc;
      start = i + 1;
    }
    i++;
  }
  return out + s.slice(start) + '"';
}

/**
 * A float as nlohmann writes it: the shortest digits that read back to the
 * same double, `d.dd` for decimal exponents -4 < e <= 15 (`1.0` for whole
 * numbers, `0.0001`), otherwise `de+XX` / `d.ddde-XX`; `-0.0`; `null` for
 * NaN and infinities.
 */
function nlohmannFloat(x: number): string {
  if (!Number.isFinite(x)) return 'null';
  const sign = x < 0 || Object.is(x, -0) ? '-' : '';
  const v = Math.abs(x);
  if (v === 0) return `${sign}0.0`;
  const m = /^(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(v.toExponential()) as RegExpExecArray;
  const digits = (m[1] as string) + (m[2] ?? '');
  const k = digits.length;
  const n = Number(m[3]) + 1; // the value is 0.DIGITS * 10^n
  let body: string;
  if (k <= n && n <= 15) body = digits + '0'.repeat(n - k) + '.0';
  else if (0 < n && n <= 15) body = `${digits.slice(0, n)}.${digits.slice(n)}`;
  else if (-4 < n && n <= 0) body = `0.${'0'.repeat(-n)}${digits}`;
  else {
    const e = n - 1;
    const ae = Math.abs(e);
    body = `${digits[0]}${k > 1 ? '.' + digits.slice(1) : ''}e${e < 0 ? '-' : '+'}${ae < 10 ? '0' + ae : ae}`;
  }
  return sign + body;
}

/** nlohmann's dump(): compact without `indent`, else `indent` spaces per level and `": "`. */
export function dumpNlohmannJson(v: NlohmannJson, indent?: number, level = 0): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'string') return nlohmannString(v);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return nlohmannFloat(v);
  const items: string[] = [];
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    for (const x of v) items.push(dumpNlohmannJson(x, indent, level + 1));
  } else {
    if (v.size === 0) return '{}';
    for (const k of [...v.keys()].sort(compareBytes)) {
      const x = dumpNlohmannJson(v.get(k) as NlohmannJson, indent, level + 1);
      items.push(`${nlohmannString(k)}${indent === undefined ? ':' : ': '}${x}`);
    }
  }
  const [open, close] = Array.isArray(v) ? ['[', ']'] : ['{', '}'];
  if (indent === undefined) return open + items.join(',') + close;
  const inner = ' '.repeat(indent * (level + 1));
  return `${open}\n${inner}${items.join(`,\n${inner}`)}\n${' '.repeat(indent * level)}${close}`;
}

export class StructuredAttrsError extends Error {
  constructor(message: string) {
    super(`cannot process __json attribute: ${message}`);
    this.name = 'StructuredAttrsError';
  }
}

/**
 * Parse JSON text (a byte string) as nlohmann::json::parse does: strings stay
 * byte strings (`\u` escapes become UTF-8 bytes; raw bytes must be valid
 * UTF-8), integers that fit int64 (negative) or uint64 become bigints, other
 * numbers doubles, a repeated key keeps its last value.
 */
export function parseNlohmannJson(text: string): NlohmannJson {
  let i = 0;
  const fail = (what: string): never => {
    throw new StructuredAttrsError(`syntax error at byte ${i}: ${what}`);
  };
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i] as string)) i++;
  };
  const lit = (word: string): void => {
    if (!text.startsWith(word, i)) fail(`expected '${word}'`);
    i += word.length;
  };
  const hex4 = (): number => {
    const h = text.slice(i, i + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) fail('expected four hex digits after \\u');
    i += 4;
    return parseInt(h, 16);
  };
  const str = (): string => {
    i++; // the opening quote
    let out = '';
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return out;
      }
      if (c < 0x20) fail('control character in string');
      if (c === 0x5c) {
        const e = text[i + 1];
        i += 2;
        const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (e !== undefined && e in simple) out += simple[e];
        else if (e === 'u') {
          let cp = hex4();
          if (cp >= 0xd800 && cp <= 0xdbff) {
            if (!text.startsWith('\\u', i)) fail('lone high surrogate');
            i += 2;
            const lo = hex4();
            if (lo < 0xdc00 || lo > 0xdfff) fail('invalid low surrogate');
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          } else if (cp >= 0xdc00 && cp <= 0xdfff) fail('lone low surrogate');
          out += Buffer.from(String.fromCodePoint(cp), 'utf8').toString('latin1');
        } else fail('invalid escape');
        continue;
      }
      if (c >= 0x80) {
        const n = utf8SequenceAt(text, i);
        if (n === Infinity || n < 0) fail('ill-formed UTF-8 byte');
        out += text.slice(i, i + n);
        i += n;
        continue;
      }
      out += text[i];
      i++;
    }
  };
  const value = (depth: number): NlohmannJson => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const m = new Map<string, NlohmannJson>();
      ws();
      if (text[i] === '}') {
        i++;
        return m;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a string key');
        const k = str();
        ws();
        if (text[i] !== ':') fail("expected ':'");
        i++;
        m.set(k, value(depth + 1));
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return m;
        } else fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      i++;
      const a: NlohmannJson[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return a;
      }
      for (;;) {
        a.push(value(depth + 1));
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') {
          i++;
          return a;
        } else fail("expected ',' or ']'");
      }
    }
    if (c === '"') return str();
    if (c === 't') return lit('true'), true;
    if (c === 'f') return lit('false'), false;
    if (c === 'n') return lit('null'), null;
    const m = /^-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) return fail('expected a value');
    i += m[0].length;
    if (m[1] === undefined && m[2] === undefined) {
      const n = BigInt(m[0]);
      if (n >= -(1n << 63n) && n < 1n << 64n) return n;
    }
    return Number(m[0]);
  };
  const v = value(0);
  ws();
  if (i !== text.length) fail('expected the end of the input');
  return v;
}

/** The base name of a store path (`/nix/store/abc…-x` -> `abc…-x`). */
function storePathBaseName(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

/** `[r:|text:|git:]algo` of an ATerm output -> content-addressing method and algorithm. */
function outputMethodAlgo(hashAlgo: string): { method: string; algo: string } {
  for (const [prefix, method] of [['r:', 'nar'], ['text:', 'text'], ['git:', 'git']] as const) {
    if (hashAlgo.startsWith(prefix)) return { method, algo: hashAlgo.slice(prefix.length) };
  }
  return { method: 'flat', algo: hashAlgo };
}

/** One output in format version 4. */
function derivationOutputJsonV4(drvName: string, o: DerivationOutput): Map<string, NlohmannJson> {
  const res = new Map<string, NlohmannJson>();
  const hashAlgo = o.hashAlgo ?? '';
  const hash = o.hash ?? '';
  if (hashAlgo !== '') {
    const { method, algo } = outputMethodAlgo(hashAlgo);
    if (hash === 'impure') {
      res.set('hashAlgo', algo).set('impure', true).set('method', method);
    } else if (hash !== '') {
      let h: Hash;
      try {
        h = parseHash(hash, parseHashAlgo(algo));
      } catch (e) {
        if (e instanceof BadHashError) throw new DerivationError(`derivation '${drvName}': ${e.message}`);
        throw e;
      }
      res.set('hash', h.toSRI()).set('method', method);
    } else {
      res.set('hashAlgo', algo).set('method', method);
    }
  } else if (o.path !== '') {
    res.set('path', storePathBaseName(o.path));
  }
  return res;
}

/**
 * A derivation in CppNix's derivation JSON format version 4 (what `nix
 * derivation show` prints per derivation since 2.33): store paths as base
 * names, inputs under `inputs` ({srcs, drvs}), fixed outputs as {hash (SRI),
 * method}, the `__json` env entry moved to `structuredAttrs`.
 */
export function derivationJsonV4(drv: Derivation): Map<string, NlohmannJson> {
  const outputs = new Map<string, NlohmannJson>();
  for (const [name, o] of drv.outputs) outputs.set(name, derivationOutputJsonV4(drv.name, o));
  const drvs = new Map<string, NlohmannJson>();
  for (const [p, outs] of drv.inputDrvs) {
    drvs.set(
      storePathBaseName(p),
      new Map<string, NlohmannJson>([
        ['dynamicOutputs', new Map()],
        ['outputs', [...outs].sort(compareBytes)],
      ]),
    );
  }
  const srcs = [...drv.inputSrcs].map(storePathBaseName).sort(compareBytes);
  const env = new Map<string, NlohmannJson>();
  let structured: string | undefined;
  for (const [k, v] of drv.env) {
    if (k === '__json') structured = v;
    else env.set(k, v);
  }
  const res = new Map<string, NlohmannJson>([
    ['args', [...drv.args]],
    ['builder', drv.builder],
    ['env', env],
    [
      'inputs',
      new Map<string, NlohmannJson>([
        ['drvs', drvs],
        ['srcs', srcs],
      ]),
    ],
    ['name', drv.name],
    ['outputs', outputs],
    ['system', drv.platform],
    ['version', 4n],
  ]);
  if (structured !== undefined) res.set('structuredAttrs', parseNlohmannJson(structured));
  return res;
}

export interface ShowDerivationOptions {
  /** Indent by two spaces (CppNix: when stdout is a terminal, or with --pretty); else one line. */
  pretty?: boolean;
}

/**
 * The output of `nix derivation show` in current CppNix (2.34 and later;
 * format version 4 came with 2.33): `{"derivations": {BASENAME.drv: …},
 * "version": 4}` with
 * each derivation in format version 4 (derivationJsonV4), keys in byte order
 * at every level, printed compactly unless `pretty`, with a trailing newline.
 * Invalid UTF-8 in any string is an error (JsonUtf8Error), as in CppNix.
 *
 * Sources, in my own words:
 * - https://nix.dev/manual/nix/latest/protocols/json/derivation.html — the
 *   version-4 schema: name, version (4), outputs, inputs {srcs, drvs}, system,
 *   builder, args, env, optional structuredAttrs; store paths are base names.
 * - https://nix.dev/manual/nix/2.34/protocols/json/content-address — a
 *   content address is {method: flat|nar|text|git, hash}, the hash an SRI string.
 * - NixOS/nix doc/manual/source/release-notes/rl-2.33.md, "Derivation JSON
 *   format changes": inputSrcs/inputDrvs became inputs.srcs/inputs.drvs and
 *   fixed outputs use the structured content address.
 * - NixOS/nix src/nix/derivation-show.cc (read, not copied): the derivations
 *   are keyed by the .drv's base name and wrapped with the format version;
 *   `-r` takes the whole reference closure and keeps the paths that are
 *   derivations; the JSON goes through MixPrintJSON (src/libmain/common-args.cc),
 *   which indents by 2 only when stdout is a tty (--pretty/--no-pretty) and
 *   Logger::writeToStdout adds the newline.
 * - NixOS/nix src/libstore/derivations.cc (read, not copied): outputs print as
 *   {path} (input-addressed), the content address (fixed; no path),
 *   {hashAlgo, method} (floating), {} (deferred), {hashAlgo, impure, method};
 *   each input derivation as {dynamicOutputs: {}, outputs: [sorted]}; __json
 *   is taken out of env when a .drv is read (StructuredAttrs::tryExtract).
 * - github.com/cachix/nix-derivation tests/fixtures/json-v4/*.json, captured
 *   from `nix derivation show` 2.34.8: real output confirming key order,
 *   base names and `"hash": "sha256-…"` with `"method": "nar"`.
 * - github.com/Mayeu/std pull 4 and github.com/tiiuae/sbomnix pull 269: the
 *   wrapper `{derivations, version}` and base-name keys, seen from users' side.
 */
export function showDerivationJsonV4(
  drvs: Iterable<[drvPath: string, drv: Derivation]>,
  opts: ShowDerivationOptions = {},
): string {
  const derivations = new Map<string, NlohmannJson>();
  for (const [p, d] of drvs) derivations.set(storePathBaseName(p), derivationJsonV4(d));
  const root = new Map<string, NlohmannJson>([
    ['derivations', derivations],
    ['version', 4n],
  ]);
  return dumpNlohmannJson(root, opts.pretty === true ? 2 : undefined) + '\n';
}

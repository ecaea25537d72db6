/**
 * Derivations as the store sees them: a plain record, its ATerm form (the
 * contents of a .drv file), the ATerm parser, hashDerivationModulo, the
 * computation of output paths and of the .drv path, and the JSON of
 * `nix show-derivation` (Nix 2.8).
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

function sortedKeys<K extends string>(m: { keys(): Iterable<K> }): K[] {
  return [...m.keys()].sort(compareBytes);
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
    const outs = [...(inputDrvs.get(p) as Set<string>)].sort(compareBytes);
    parts.push('(', atermString(p), ',', stringList(outs), ')');
  }
  parts.push('],', stringList([...drv.inputSrcs].sort(compareBytes)));
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
  return [...refs].sort(compareBytes);
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
    for (const o of [...outputs].sort(compareBytes)) {
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

/**
 * The builder's environment and the files CppNix puts in the build
 * directory, as a pure function of the derivation (tested against the
 * environments recorded in ../shared/vectors/builds.json).
 *
 * Order of precedence, as in CppNix: the defaults (PATH, HOME, NIX_STORE,
 * NIX_BUILD_CORES) can be overridden by the derivation's own variables; the
 * build-directory variables, NIX_LOG_FD and TERM cannot.
 */
import { nix32Encode } from '../base32.js';
import { sha256 } from '../hash.js';
import { isFixedOutput, type Derivation } from '../derivation.js';

export interface EnvironmentOptions {
  /** The build directory (NIX_BUILD_TOP), as the builder sees it. */
  buildTop: string;
  /** The logical store directory (NIX_STORE). */
  storeDir: string;
  /** NIX_BUILD_CORES. */
  cores: number;
  /** The environment of tsnix itself (for a fixed-output derivation's `impureEnvVars`). */
  parentEnv?: Record<string, string | undefined>;
}

export interface BuilderSetup {
  /** Variable -> value (byte strings), in the order given to the builder. */
  env: Map<string, string>;
  /** Files to create in the build directory: name relative to it -> contents (byte string). */
  files: Map<string, string>;
}

const SH_VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The name of the file a `passAsFile` attribute is written to. */
export function passAsFileName(attr: string): string {
  return `.attr-${nix32Encode(sha256(attr).bytes)}`;
}

export function builderEnvironment(drv: Derivation, opts: EnvironmentOptions): BuilderSetup {
  const env = new Map<string, string>();
  const files = new Map<string, string>();
  env.set('PATH', '/path-not-set');
  env.set('HOME', '/homeless-shelter');
  env.set('NIX_STORE', opts.storeDir);
  env.set('NIX_BUILD_CORES', String(opts.cores));

  const json = drv.env.get('__json');
  if (json !== undefined) {
    const { attrsJson, attrsSh } = structuredAttrsFiles(drv, json);
    files.set('.attrs.json', attrsJson);
    files.set('.attrs.sh', attrsSh);
    env.set('NIX_ATTRS_JSON_FILE', `${opts.buildTop}/.attrs.json`);
    env.set('NIX_ATTRS_SH_FILE', `${opts.buildTop}/.attrs.sh`);
  } else {
    const passAsFile = new Set((drv.env.get('passAsFile') ?? '').split(/[ \t\n\r]+/).filter((s) => s !== ''));
    for (const [k, v] of drv.env) {
      if (passAsFile.has(k)) {
        const fn = passAsFileName(k);
        files.set(fn, v);
        env.set(`${k}Path`, `${opts.buildTop}/${fn}`);
      } else {
        env.set(k, v);
      }
    }
  }

  env.set('NIX_BUILD_TOP', opts.buildTop);
  env.set('TMPDIR', opts.buildTop);
  env.set('TEMPDIR', opts.buildTop);
  env.set('TMP', opts.buildTop);
  env.set('TEMP', opts.buildTop);
  env.set('PWD', opts.buildTop);

  if (isFixedOutput(drv)) {
    env.set('NIX_OUTPUT_CHECKED', '1');
    const impure = (drv.env.get('impureEnvVars') ?? '').split(/[ \t\n\r]+/).filter((s) => s !== '');
    for (const name of impure) {
      const v = opts.parentEnv?.[name];
      if (v !== undefined) env.set(name, Buffer.from(v, 'utf8').toString('latin1'));
    }
  }
  env.set('NIX_LOG_FD', '2');
  env.set('TERM', 'xterm-256color');
  return { env, files };
}

// ---------------------------------------------------------------------------
// __structuredAttrs: .attrs.json and .attrs.sh

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Bytes (latin1) -> JS string, for JSON.parse. */
function utf8(s: string): string {
  return Buffer.from(s, 'latin1').toString('utf8');
}

/** JS string -> bytes (latin1). */
function bytes(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}

/** Compact JSON with sorted keys (as nlohmann's std::map-backed objects print). */
function sortedJson(v: Json): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(sortedJson).join(',')}]`;
  const keys = Object.keys(v).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${keys.map((k) => `${JSON.stringify(k)}:${sortedJson(v[k] as Json)}`).join(',')}}`;
}

/** A shell word in single quotes. */
function shellEscape(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A scalar as a shell value, or undefined for lists and objects. */
function shellScalar(v: Json): string | undefined {
  if (typeof v === 'string') return shellEscape(v);
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : undefined;
  if (typeof v === 'boolean') return v ? '1' : '';
  if (v === null) return `''`;
  return undefined;
}

export function structuredAttrsFiles(drv: Derivation, json: string): { attrsJson: string; attrsSh: string } {
  const attrs = JSON.parse(utf8(json)) as { [k: string]: Json };
  const outputs: { [k: string]: Json } = {};
  for (const [name, o] of drv.outputs) outputs[name] = o.path;
  attrs.outputs = outputs;
  const attrsJson = bytes(sortedJson(attrs));
  let sh = '';
  for (const key of Object.keys(attrs).sort()) {
    if (!SH_VAR_NAME.test(key)) continue;
    const v = attrs[key] as Json;
    const scalar = shellScalar(v);
    if (scalar !== undefined) {
      sh += `declare ${key}=${scalar}\n`;
    } else if (Array.isArray(v)) {
      const items = v.map(shellScalar);
      if (items.some((x) => x === undefined)) continue;
      sh += `declare -a ${key}=(${items.map((x) => `${x} `).join('')})\n`;
    } else if (v !== null && typeof v === 'object') {
      const entries = Object.keys(v)
        .sort()
        .map((k) => [k, shellScalar(v[k] as Json)] as const);
      if (entries.some(([, x]) => x === undefined)) continue;
      sh += `declare -A ${key}=(${entries.map(([k, x]) => `[${shellEscape(k)}]=${x} `).join('')})\n`;
    }
  }
  return { attrsJson, attrsSh: bytes(sh) };
}

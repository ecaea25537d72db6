// Settings, read as CppNix reads them: a configuration file
// ($XDG_CONFIG_HOME/tsnix/tsnix.conf), then the NIX_CONFIG environment
// variable (newline-separated `name = value` lines), then `--option name
// value` and the dedicated flags on the command line.  `extra-NAME` appends
// to a list setting.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { enableBlake3 } from '../store/hash.js';
import { setAutoOptimise } from '../store/optimise.js';

export type SettingType = 'bool' | 'int' | 'string' | 'list';

interface SettingDef {
  type: SettingType;
  def: string;
  desc: string;
}

function detectSystem(): string {
  const arch = process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : process.arch === 'ia32' ? 'i686' : process.arch;
  const plat = process.platform === 'darwin' ? 'darwin' : process.platform;
  return `${arch}-${plat}`;
}

/** Every setting tsnix knows, with its default (as text, like `show-config` prints it). */
export const SETTINGS: Record<string, SettingDef> = {
  'abort-on-warn': { type: 'bool', def: 'false', desc: 'turn warnings into errors' },
  'allow-import-from-derivation': { type: 'bool', def: 'true', desc: 'allow import of files built by derivations' },
  'auto-optimise-store': { type: 'bool', def: 'false', desc: 'hard-link the identical files of new store paths, as `tsnix store optimise` does' },
  'allowed-uris': { type: 'list', def: '', desc: 'URI prefixes allowed in restricted evaluation' },
  'build-users-group': { type: 'string', def: '', desc: 'group of the build users (ignored)' },
  cores: { type: 'int', def: String(os.availableParallelism()), desc: 'value of NIX_BUILD_CORES in builds' },
  'eval-cache': { type: 'bool', def: 'true', desc: 'accepted for compatibility' },
  'experimental-features': { type: 'list', def: '', desc: 'experimental features enabled' },
  'extra-platforms': { type: 'list', def: '', desc: 'other systems this machine can build for' },
  'keep-going': { type: 'bool', def: 'false', desc: 'keep building after a failure' },
  'keep-outputs': { type: 'bool', def: 'false', desc: 'keep outputs of derivations alive in gc' },
  'keep-derivations': { type: 'bool', def: 'true', desc: 'keep derivations of live outputs in gc' },
  'max-call-depth': { type: 'int', def: '250000', desc: 'maximum depth of nested function calls (CppNix: 10000; tsnix allows deep but legal recursion such as a foldr over 100 000 elements)' },
  'max-jobs': { type: 'string', def: '1', desc: 'number of builds run in parallel' },
  'nix-path': { type: 'list', def: '', desc: 'search path for <...> lookups' },
  'pure-eval': { type: 'bool', def: 'false', desc: 'pure evaluation mode' },
  'restrict-eval': { type: 'bool', def: 'false', desc: 'restrict file access to the search path' },
  sandbox: { type: 'string', def: 'false', desc: 'build sandboxing (tsnix builds are not sandboxed)' },
  'show-trace': { type: 'bool', def: 'false', desc: 'print the whole trace of evaluation errors' },
  substituters: { type: 'list', def: '', desc: 'binary caches to use' },
  system: { type: 'string', def: detectSystem(), desc: 'the system type of this machine' },
  'trusted-public-keys': { type: 'list', def: '', desc: 'keys trusted for signed paths' },
  'warn-dirty': { type: 'bool', def: 'true', desc: 'accepted for compatibility' },
  'lint-absolute-path-literals': { type: 'string', def: 'ignore', desc: 'ignore, warn or fatal on absolute path literals' },
  'lint-short-path-literals': { type: 'string', def: 'ignore', desc: 'ignore, warn or fatal on path literals without ./' },
  'lint-url-literals': { type: 'string', def: 'ignore', desc: 'ignore, warn or fatal on URL literals' },
};

export class Settings {
  private values = new Map<string, string>();
  /** Warnings found while reading (unknown settings); the caller prints them. */
  readonly warnings: string[] = [];

  /**
   * Makes these settings' experimental features that the store's code checks
   * those of the process (they are process-wide, as in CppNix): called by
   * each evaluator (EvalState) and command line (settingsWith) as it starts.
   */
  applyProcessWide(): void {
    enableBlake3(this.experimentalFeatures.has('blake3-hashes'));
    setAutoOptimise(this.bool('auto-optimise-store'));
  }

  get(name: string): string {
    const v = this.values.get(name);
    if (v !== undefined) return v;
    const d = SETTINGS[name];
    if (!d) throw new Error(`unknown setting '${name}'`);
    return d.def;
  }

  bool(name: string): boolean {
    return this.get(name) === 'true';
  }

  int(name: string): number {
    return Number.parseInt(this.get(name), 10);
  }

  list(name: string): string[] {
    return this.get(name).split(/\s+/).filter(Boolean);
  }

  get showTrace(): boolean {
    return this.bool('show-trace');
  }

  get experimentalFeatures(): Set<string> {
    return new Set(this.list('experimental-features'));
  }

  /** Sets a setting from text; `extra-NAME` appends to a list.  Returns an error message or null. */
  set(name: string, value: string, origin: string): string | null {
    let extra = false;
    let key = name;
    if (key.startsWith('extra-') && SETTINGS[key.slice(6)]) {
      extra = true;
      key = key.slice(6);
    }
    const d = SETTINGS[key];
    if (!d) {
      this.warnings.push(`unknown setting '${name}'`);
      return null;
    }
    value = value.trim();
    if (d.type === 'bool') {
      if (value !== 'true' && value !== 'false') return `invalid Boolean value '${value}' for setting '${key}' (${origin})`;
    } else if (d.type === 'int') {
      if (!/^-?[0-9]+$/.test(value)) return `configuration setting '${key}' should have an integer value, got '${value}' (${origin})`;
    }
    if (extra && d.type === 'list') {
      const cur = this.get(key);
      this.values.set(key, cur ? `${cur} ${value}` : value);
    } else {
      this.values.set(key, value);
    }
    return null;
  }

  /** Reads `name = value` lines (comments with #, `include` lines ignored). */
  loadText(text: string, origin: string): string | null {
    for (const raw of text.split('\n')) {
      const line = raw.replace(/#.*$/, '').trim();
      if (!line) continue;
      const eq = line.indexOf('=');
      if (eq < 0) {
        if (/^!?include\s/.test(line)) continue;
        return `syntax error in configuration line '${line}' in ${origin}`;
      }
      const err = this.set(line.slice(0, eq).trim(), line.slice(eq + 1), origin);
      if (err) return err;
    }
    return null;
  }

  /** Names of all settings with their current values, sorted. */
  entries(): [string, string][] {
    return Object.keys(SETTINGS)
      .sort()
      .map((k) => [k, this.get(k)]);
  }
}

/** Settings from the configuration file and NIX_CONFIG (the command line comes on top, from the caller). */
export function loadSettings(env: NodeJS.ProcessEnv = process.env): { settings: Settings; error: string | null } {
  const s = new Settings();
  const xdg = env.XDG_CONFIG_HOME || (env.HOME ? path.join(env.HOME, '.config') : null);
  if (xdg) {
    const file = path.join(xdg, 'tsnix', 'tsnix.conf');
    let text: string | null = null;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      text = null;
    }
    if (text !== null) {
      const err = s.loadText(text, file);
      if (err) return { settings: s, error: err };
    }
  }
  if (env.NIX_CONFIG) {
    const err = s.loadText(env.NIX_CONFIG, 'NIX_CONFIG');
    if (err) return { settings: s, error: err };
  }
  return { settings: s, error: null };
}

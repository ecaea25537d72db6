// The build options that come from settings (nix.conf, NIX_CONFIG, --option):
// used by `tsnix build` (with its flags on top) and by the REPL's `:b`, so
// that both build with the same jobs, cores, system and substituters.

import os from 'node:os';
import type { LocalStore } from '../local-store.js';
import type { BuildOptions } from './api.js';

/** What is read from the settings (the evaluator's Settings has these; the store does not import it). */
export interface BuildSettings {
  get(name: string): string;
  int(name: string): number;
  bool(name: string): boolean;
  list(name: string): string[];
}

/** `max-jobs` and `-j`: a number or `auto` (the number of CPUs); null when it is neither. */
export function parseMaxJobs(v: string): number | null {
  if (v === 'auto') return Math.max(1, os.availableParallelism());
  return /^\d+$/.test(v) ? Number(v) : null;
}

/** max-jobs, cores, keep-going, system and substituters (with trusted-public-keys) from the settings. */
export async function buildOptionsFromSettings(
  settings: BuildSettings,
  store: LocalStore,
  warn: (msg: string) => void,
): Promise<Pick<BuildOptions, 'maxJobs' | 'cores' | 'keepGoing' | 'system' | 'substituters'>> {
  const maxJobs = parseMaxJobs(settings.get('max-jobs')) || 1;
  const cores = settings.int('cores') || 1;
  const urls = settings.list('substituters');
  let substituters: BuildOptions['substituters'] = [];
  if (urls.length) {
    const { substitutersFor } = await import('../substituter.js');
    const { parsePublicKeys } = await import('../signing.js');
    substituters = substitutersFor(store, urls, parsePublicKeys(settings.list('trusted-public-keys')), warn);
  }
  return { maxJobs, cores, keepGoing: settings.bool('keep-going'), system: settings.get('system'), substituters };
}

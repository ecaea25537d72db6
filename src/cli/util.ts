// Small helpers shared by the subcommands: output of byte strings, usage errors.
import fs from 'node:fs';
import { loadSettings, type Settings } from '../eval/settings.js';
import { writeAll } from '../store/fs-path.js';

export { writeAll };

/** A command-line usage error: printed with a hint, exit code 1. */
export class UsageError extends Error {}

/** Where writeOut writes: stdout, except during the start-up snapshot's warm-up (snapshot-entry.ts). */
let outFd = 1;

export function setOutFd(fd: number): void {
  outFd = fd;
}

/** Write a byte string (see grammar/ast.ts) to stdout. */
export function writeOut(s: string): void {
  writeAll(outFd, Buffer.from(s, 'latin1'));
}

/** Write bytes to stdout. */
export function writeOutBytes(b: Uint8Array): void {
  writeAll(outFd, b);
}

/** Write a byte string to stderr. */
export function writeErr(s: string): void {
  writeAll(2, Buffer.from(s, 'latin1'));
}

/** Read all of standard input as a byte string. */
export function readStdin(): string {
  return fs.readFileSync(0).toString('latin1');
}

/** The value of an option that needs one, or a usage error. */
export function needValue(args: string[], i: number, flag: string): string {
  const v = args[i + 1];
  if (v === undefined) throw new UsageError(`flag '${flag}' requires an argument`);
  return v;
}

/** Settings given to a whole command (see takeFeatureFlags), applied by every settingsWith. */
const commandOptions: [string, string][] = [];

/**
 * `args` without `--experimental-features F` and `--extra-experimental-features F`,
 * which are kept for every settingsWith of this command (for commands whose
 * operations read no other settings flags: store, hash).
 */
export function takeFeatureFlags(args: readonly string[]): string[] {
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--experimental-features' || a === '--extra-experimental-features') {
      commandOptions.push([a.slice(2), needValue(args as string[], i, a)]);
      i++;
    } else rest.push(a);
  }
  return rest;
}

/** Settings from the config file, NIX_CONFIG and `--option`s (as [name, value] pairs); warnings printed. */
export function settingsWith(options: readonly [string, string][]): Settings {
  const { settings, error } = loadSettings();
  if (error) throw new UsageError(error);
  for (const [k, v] of [...commandOptions, ...options]) {
    const err = settings.set(k, v, 'command line');
    if (err) throw new UsageError(err);
  }
  for (const w of settings.warnings) writeErr(`warning: ${w}\n`);
  settings.applyProcessWide();
  return settings;
}

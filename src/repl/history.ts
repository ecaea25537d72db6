// The REPL's history, kept across sessions in
// `$XDG_DATA_HOME/tsnix/repl-history` (default ~/.local/share/tsnix/repl-history):
// one entry per line, with `\` and newlines escaped (`\\`, `\n`) so that a
// multi-line input stays one entry.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const MAX_HISTORY = 1000;

export function historyFile(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_DATA_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(env.HOME || os.homedir(), '.local', 'share');
  return path.join(base, 'tsnix', 'repl-history');
}

function escape(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function unescape(s: string): string {
  return s.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

export class History {
  readonly entries: string[] = [];

  constructor(private readonly file: string | null) {
    if (!file) return;
    try {
      const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
      this.entries.push(...lines.slice(-MAX_HISTORY).map(unescape));
    } catch {
      // no history yet
    }
  }

  /** Adds an entry (not empty lines, not a repeat of the last one) and appends it to the file. */
  add(entry: string): void {
    if (entry.trim() === '' || this.entries[this.entries.length - 1] === entry) return;
    this.entries.push(entry);
    if (this.entries.length > MAX_HISTORY) this.entries.splice(0, this.entries.length - MAX_HISTORY);
    if (!this.file) return;
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true });
      fs.appendFileSync(this.file, escape(entry) + '\n');
    } catch {
      // history is a convenience: never an error
    }
  }

  /** Rewrites the file with the kept entries when it has grown well past the limit. */
  compact(): void {
    if (!this.file) return;
    try {
      const n = fs.readFileSync(this.file, 'utf8').split('\n').length;
      if (n > 2 * MAX_HISTORY) fs.writeFileSync(this.file, this.entries.map(escape).join('\n') + '\n');
    } catch {
      // ignore
    }
  }
}

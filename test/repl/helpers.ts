// Shared helpers of the REPL tests: temporary stores and a session whose
// output is collected.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalEngine } from '../../src/repl/engine.js';
import type { SessionConfig } from '../../src/repl/session.js';

export interface TempEnv {
  dir: string;
  env: NodeJS.ProcessEnv;
  cleanup(): void;
}

/** A temporary store, state folder and XDG_DATA_HOME. */
export function tempEnv(): TempEnv {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'tsnix-repl-')));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: dir,
    TSNIX_STORE_DIR: path.join(dir, 'store'),
    TSNIX_STATE_DIR: path.join(dir, 'state'),
    XDG_DATA_HOME: path.join(dir, 'data'),
    XDG_CONFIG_HOME: path.join(dir, 'config'),
  };
  return {
    dir,
    env,
    cleanup: () => {
      // store files are read-only
      const unlock = (p: string) => {
        try {
          const st = fs.lstatSync(p);
          if (st.isDirectory()) {
            fs.chmodSync(p, 0o755);
            for (const e of fs.readdirSync(p)) unlock(path.join(p, e));
          }
        } catch {
          // gone
        }
      };
      unlock(dir);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Transcript {
  engine: LocalEngine;
  out: string[];
  /** Runs one input; returns what it printed (stdout and stderr, in order). */
  run(input: string): Promise<string>;
}

export function session(t: TempEnv, extra: Partial<SessionConfig> = {}): Transcript {
  const out: string[] = [];
  const engine = new LocalEngine(
    { files: [], options: [], searchPath: [], autoArgs: [], color: false, env: t.env, cwd: t.dir, ...extra },
    { output: (_s, text) => out.push(text) },
  );
  return {
    engine,
    out,
    async run(input: string) {
      out.length = 0;
      const r = await engine.run(input);
      if (r.kind === 'incomplete') out.push('<incomplete>');
      return out.join('');
    },
  };
}

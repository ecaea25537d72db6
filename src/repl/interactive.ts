// Start of the interactive REPL. The banner and the prompt are written at
// once, before Ink and React are loaded (that takes a few hundred ms); keys
// typed meanwhile are echoed and handed to the app when it starts. The
// evaluator starts in its worker at the same time.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { OutputBus } from './bus.js';
import { editorCommand } from './editor.js';
import { History, historyFile } from './history.js';
import { PROMPT } from './prompt.js';
import type { SessionConfig } from './session.js';
import { WorkerEngine } from './worker-engine.js';

export interface InteractiveOptions {
  config: SessionConfig;
  banner: string;
}

/** Milliseconds from process start to the first prompt (for `TSNIX_REPL_TIMING`). */
function sinceStart(): number {
  return Math.round(performance.now());
}

export async function startInteractive(o: InteractiveOptions): Promise<number> {
  const { stdin, stdout } = process;
  // a terminal that does not know its size (a pty made by `script` from a pipe) still gets a usable layout
  if (!stdout.columns) stdout.columns = 80;
  if (!stdout.rows) stdout.rows = 24;
  // 1. the first prompt, at once
  stdout.write(`${o.banner}\n\n${PROMPT}`);
  const firstPrompt = sinceStart();
  const typeahead: string[] = [];
  let echo = '';
  let echoing = true;
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  const onData = (d: string) => {
    typeahead.push(d);
    if (!echoing) return;
    for (const ch of d) {
      if (ch === '\x7f' || ch === '\b') {
        if (echo.length) {
          echo = echo.slice(0, -1);
          stdout.write('\b \b');
        }
      } else if (ch >= ' ' && PROMPT.length + echo.length + 1 < (stdout.columns || 80)) {
        echo += ch;
        stdout.write(ch);
      } else {
        // anything else waits for the editor proper
        echoing = false;
        return;
      }
    }
  };
  stdin.on('data', onData);

  // 2. the evaluator, and the interface
  // (the interface first: on a machine with few cores, loading both at once delays the editor)
  const [ink, React, { App }] = await loadInterface();
  const bus = new OutputBus();
  const engine = new WorkerEngine(o.config, bus);
  // the app takes the keyboard over when it starts listening (keys typed until then are handed to it)
  const takeover = (): string[] => {
    stdin.off('data', onData);
    return typeahead.splice(0);
  };
  if (process.env.TSNIX_REPL_TIMING) process.stderr.write(`[first prompt after ${firstPrompt} ms, interface ready after ${sinceStart()} ms]\r\n`);
  // the app draws the prompt itself, where the early one was
  stdout.write('\r\x1b[2K');

  const history = new History(historyFile());
  const onSigint = () => engine.interrupt();
  process.on('SIGINT', onSigint);

  const runEditor = (file: string, line: number): string | null => {
    const [cmd, ...args] = editorCommand(file, line);
    const raw = stdin.isRaw;
    if (raw) stdin.setRawMode(false);
    try {
      const r = spawnSync(cmd!, args, { stdio: 'inherit' });
      // Ink erases the lines of its (empty) live area before drawing again:
      // a new line keeps what the editor printed out of reach
      stdout.write('\n');
      if (r.error) return `error: cannot run the editor '${cmd}': ${r.error.message}`;
      return null;
    } finally {
      if (raw) stdin.setRawMode(true);
    }
  };

  return await new Promise<number>((resolve) => {
    const instance = ink.render(
      React.createElement(App, {
        engine,
        bus,
        history,
        banner: null,
        takeover,
        runEditor,
        onExit: () => {
          setImmediate(() => {
            instance.unmount();
            process.off('SIGINT', onSigint);
            void engine.close().then(() => {
              resolve(0);
              // nothing is left to do; do not wait for stdin to be released
              setImmediate(() => process.exit(0));
            });
          });
        },
      }),
      { exitOnCtrlC: false, patchConsole: false },
    );
  });
}

type Interface = [typeof import('ink'), typeof import('react'), typeof import('./app.js')];

/**
 * Ink, React and the app: from the single-file bundle `npm run build` makes
 * (dist/repl-ui.mjs: about 0.2 s to load instead of 0.6 s for the separate
 * modules), else from node_modules.
 */
async function loadInterface(): Promise<Interface> {
  const bundle = new URL('../../repl-ui.mjs', import.meta.url);
  if (existsSync(bundle)) {
    const m = (await import(bundle.href)) as { ink: Interface[0]; React: Interface[1] & { default?: Interface[1] }; App: Interface[2]['App'] };
    return [m.ink, m.React.default ?? m.React, { App: m.App }];
  }
  return Promise.all([import('ink'), import('react'), import('./app.js')]);
}

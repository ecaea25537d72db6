// The REPL without a terminal on standard input: lines are read one by one
// and the transcript is printed as `nix repl` prints it (the prompt, the
// line read, the output, an empty line), so it can be scripted:
//
//   printf '1 + 2\n:q\n' | tsnix repl

import { spawnSync } from 'node:child_process';
import readline from 'node:readline';
import type { ReplEngine } from './engine.js';
import { editorCommand } from './editor.js';
import { stderrWrite as err, stdoutWrite as out } from './output.js';
import { CONTINUATION, PROMPT } from './prompt.js';


export interface PlainOptions {
  banner: string;
  engine: ReplEngine & { ready?(): Promise<void> };
  input?: NodeJS.ReadableStream;
}

/** Writes engine output to stdout / stderr. */
export function plainListener(): { output(stream: 'out' | 'err', text: string): void } {
  return { output: (stream, text) => (stream === 'out' ? out(text) : err(text)) };
}

export async function runPlain(o: PlainOptions): Promise<number> {
  const { engine } = o;
  out(o.banner + '\n\n');
  await engine.ready?.();
  // Ctrl-C interrupts what runs; at the prompt it ends the REPL
  let busy = false;
  const onSigint = () => {
    if (busy) engine.interrupt();
    else {
      out('\n');
      process.exit(130);
    }
  };
  process.on('SIGINT', onSigint);
  const rl = readline.createInterface({ input: o.input ?? process.stdin, terminal: false, crlfDelay: Infinity });
  const lines: string[] = [];
  out(PROMPT);
  try {
    for await (const line of rl) {
      out(line + '\n');
      lines.push(line);
      busy = true;
      const r = await engine.run(lines.join('\n'));
      busy = false;
      if (r.kind === 'incomplete') {
        out(CONTINUATION);
        continue;
      }
      lines.length = 0;
      if (r.kind === 'done' && r.quit) return 0;
      if (r.kind === 'done' && r.edit) {
        const [cmd, ...args] = editorCommand(r.edit.file, r.edit.line);
        const res = spawnSync(cmd!, args, { stdio: 'inherit' });
        if (res.error) err(`error: cannot run the editor '${cmd}': ${res.error.message}\n`);
        await engine.afterEdit();
      }
      if (r.kind === 'explore') {
        err('error: the explorer (:x) needs a terminal\n');
        await engine.exploreClose();
      }
      out('\n' + PROMPT);
    }
  } finally {
    process.off('SIGINT', onSigint);
    rl.close();
  }
  out('\n');
  return 0;
}

// `tsnix repl [FILE…]`: the interactive REPL (src/repl/). With a terminal
// it is an Ink application; otherwise it reads lines from standard input
// and prints a plain transcript. The evaluator runs in a worker thread.
//
// Start-up matters here, so this file imports nothing of the evaluator (the
// worker loads it) and Ink only for the interactive mode; the flags shared
// with the evaluating commands are parsed here without cli/common.ts.

import type { SessionConfig } from '../repl/session.js';
import { VERSION } from './main.js';
import { UsageError, needValue, settingsWith } from './util.js';

const HELP = `usage: tsnix repl [options] [FILE…]

Start an interactive environment for evaluating Nix expressions; the
attributes of each FILE are added to its scope. Type :? inside for help.

options: --arg NAME EXPR, --argstr NAME STRING, -I PATH, --option NAME VALUE,
         --show-trace, --impure, --pure-eval, --extra-experimental-features F
`;

/** The flags of cli/common.ts's parseCommonFlag, parsed without loading the evaluator. */
function parseArgs(args: string[]): SessionConfig | null {
  const c: SessionConfig = { files: [], options: [], searchPath: [], autoArgs: [], color: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const two = (): [string, string] => {
      const v = args[i + 2];
      if (args[i + 1] === undefined || v === undefined) throw new UsageError(`flag '${a}' requires 2 arguments`);
      const r: [string, string] = [args[i + 1]!, v];
      i += 2;
      return r;
    };
    const one = (): string => {
      const v = needValue(args, i, a);
      i++;
      return v;
    };
    switch (a) {
      case '--help':
      case '-h':
        return null;
      case '--option':
        c.options.push(two());
        break;
      case '-I':
      case '--include':
        c.searchPath.push(one());
        break;
      case '--arg': {
        const [name, expr] = two();
        c.autoArgs.push({ name, expr });
        break;
      }
      case '--argstr': {
        const [name, str] = two();
        c.autoArgs.push({ name, str });
        break;
      }
      case '--show-trace':
        c.options.push(['show-trace', 'true']);
        break;
      case '--no-show-trace':
        c.options.push(['show-trace', 'false']);
        break;
      case '--impure':
        c.options.push(['pure-eval', 'false']);
        break;
      case '--pure-eval':
        c.options.push(['pure-eval', 'true']);
        break;
      case '--restrict-eval':
        c.options.push(['restrict-eval', 'true']);
        break;
      case '--abort-on-warn':
        c.options.push(['abort-on-warn', 'true']);
        break;
      case '--experimental-features':
      case '--extra-experimental-features':
      case '--max-call-depth':
      case '--nix-path':
      case '--system':
      case '--cores':
        c.options.push([a.slice(2), one()]);
        break;
      case '-v':
      case '--verbose':
      case '--quiet':
      case '-Q':
      case '--no-build-output':
      case '--debug':
        break;
      case '--store':
      case '--eval-store':
        one();
        break;
      default:
        if (a.startsWith('--lint-')) c.options.push([a.slice(2), one()]);
        else if (a.startsWith('-') && a !== '-') throw new UsageError(`unrecognised flag '${a}'`);
        else c.files.push(a);
    }
  }
  return c;
}

export async function replCommand(args: string[]): Promise<number> {
  const config = parseArgs(args);
  if (config === null) {
    process.stdout.write(HELP);
    return 0;
  }
  // the settings are checked here (the worker makes them again, silently)
  settingsWith(config.options);

  const banner = `Welcome to tsnix ${VERSION}. Type :? for help.`;
  const interactive = !!process.stdin.isTTY && !!process.stdout.isTTY;
  const noColor = process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '';
  config.color = !!process.stdout.isTTY && !noColor;
  config.width = process.stdout.columns || 80;

  if (interactive) {
    const { startInteractive } = await import('../repl/interactive.js');
    return startInteractive({ config, banner });
  }
  const { WorkerEngine } = await import('../repl/worker-engine.js');
  const { runPlain, plainListener } = await import('../repl/plain.js');
  const engine = new WorkerEngine(config, plainListener());
  try {
    return await runPlain({ banner, engine });
  } finally {
    await engine.close();
  }
}

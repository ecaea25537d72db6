// The `tsnix` command: dispatches to subcommands, each loaded only when used
// so that start-up stays small.

import { TempRoots } from '../store/temp-roots.js';
import { UsageError, writeErr } from './util.js';

export const VERSION = '0.1.0';

const USAGE = `usage: tsnix <command> [options]

commands:
  instantiate   evaluate Nix expressions / instantiate derivations (nix-instantiate)
  build         build derivations, make result links (nix-build)
  eval          evaluate an expression and print the result (-E EXPR | --file FILE)
  show-config   print the settings in force
  store         the nix-store operations: add, query, realise, gc, export, sign, ... (--help)
  derivation    show [-r] DRV|FILE|-E EXPR: derivations as JSON (nix derivation show, format 4)
  copy          copy paths to or from a file:// binary cache (nix copy)
  hash          hashes of files and trees, hash format conversion (nix hash, nix-hash)
  repl          interactive environment for evaluating expressions (nix repl)
  --version     print the version
  --help        this text
`;

type Command = (args: string[]) => Promise<number> | number;

const commands: Record<string, () => Promise<Command>> = {
  instantiate: async () => (await import('./instantiate.js')).instantiate,
  build: async () => (await import('./build.js')).buildCommand,
  eval: async () => (await import('./eval.js')).evalCommand,
  'show-config': async () => (await import('./show-config.js')).showConfig,
  store: async () => (await import('./store.js')).storeCommand,
  derivation: async () => (await import('./derivation.js')).derivationCommand,
  copy: async () => (await import('./store-copy.js')).copyCommand,
  hash: async () => (await import('./hash.js')).hashCommand,
  repl: async () => (await import('./repl.js')).replCommand,
};

/**
 * bin/tsnix moves NODE_EXTRA_CA_CERTS aside for the commands that download
 * nothing, so that node starts without reading it (see there): it goes back
 * into the environment, for builtins.getEnv and the programs tsnix runs.
 */
function restoreEnv(): void {
  const ca = process.env.TSNIX_NODE_EXTRA_CA_CERTS;
  if (ca === undefined) return;
  process.env.NODE_EXTRA_CA_CERTS = ca;
  delete process.env.TSNIX_NODE_EXTRA_CA_CERTS;
}

export async function main(argv: string[]): Promise<void> {
  restoreEnv();
  let code: number;
  try {
    code = await run(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      writeErr(`error: ${e.message}\nTry 'tsnix --help' for more information.\n`);
      code = 1;
    } else {
      writeErr(`error: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      code = 1;
    }
  }
  process.exitCode = code;
  // The evaluation commands are done once they return (output is written
  // synchronously, their stores are closed): they exit at once.  Left to
  // itself, node would first wait for V8's background compilations still
  // queued and then free the heap page by page (hundreds of munmap calls
  // after a package set); process.exit leaves the memory to the kernel and
  // still runs the 'exit' handlers.
  // (this process's temporary GC roots go first, as CppNix's do when its
  // store is closed: their file, and the lock that a natural exit would
  // have closed)
  if (EXIT_AT_ONCE.has(argv[0] ?? '')) {
    TempRoots.releaseAll();
    process.exit(code);
  }
}

/** See main: commands that leave nothing running (no builds, children or REPL). */
const EXIT_AT_ONCE = new Set(['instantiate', 'eval', 'derivation', 'show-config', 'hash']);

async function run(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(USAGE);
    return cmd === undefined ? 1 : 0;
  }
  if (cmd === '--version') {
    process.stdout.write(`tsnix (Nix) ${VERSION}\n`);
    return 0;
  }
  const load = commands[cmd];
  if (!load) throw new UsageError(`unknown command '${cmd}'`);
  const fn = await load();
  return await fn(rest);
}

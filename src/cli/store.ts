// `tsnix store …`: the local store from the command line, with nix-store's
// output formats. All the work is done by src/store/local-store.ts.
//
//   tsnix store add PATH…                         (nix-store --add)
//   tsnix store add-fixed [--recursive] ALGO PATH…  (nix-store --add-fixed)
//   tsnix store dump PATH > NAR                    (nix-store --dump)
//   tsnix store restore PATH < NAR                 (nix-store --restore)
//   tsnix store query QUERY PATH…                  (nix-store -q; also `-q`, `--query`, `-qR`; in store-query.ts)
//   tsnix store print-env | check-validity | verify-path | dump-db | load-db  (nix-store --print-env, …; in store-query.ts)
//   tsnix store verify [--check-contents]          (nix-store --verify)
//   tsnix store gc [--print-roots | --print-live | --print-dead] [--max-freed N]  (nix-store --gc)
//   tsnix store delete PATH…                       (nix-store --delete)
//   tsnix store optimise                           (nix-store --optimise; in src/store/optimise.ts)
//   tsnix store realise DRV…                       (nix-store --realise; in store-build.ts)
//   tsnix store log PATH                           (nix-store --read-log; in store-build.ts)
//   tsnix store export | import | path-info | generate-binary-cache-key | sign | verify-sigs
//                                                  (in store-copy.ts)
//
// nix-store's spellings of the operations (`--add`, `--dump`, …) work too.

import { toBytes } from '../../grammar/errors.js';
import { collectGarbage, freedSummary, GcResults, parseSize, showBytes, type GcOptions } from '../store/gc.js';
import { findRoots, rootLines } from '../store/gc-roots.js';
import { UnknownHashAlgorithmError, parseHashAlgo, type HashAlgo } from '../store/hash.js';
import { absolutePath, LocalStore, storeErrorMessage } from '../store/local-store.js';
import { optimiseStore } from '../store/optimise.js';
import { QUERY_USAGE, checkValidity, dumpDb, loadDb, printEnv, query, verifyPath } from './store-query.js';
import { UsageError, settingsWith, takeFeatureFlags, writeAll, writeErr, writeOut } from './util.js';

const USAGE = `usage: tsnix store <operation> [options] [args]

operations:
  add PATH…                          copy files or trees into the store, print their store paths
  add-fixed [--recursive] ALGO PATH…  the same with a fixed-output hash (md5, sha1, sha256, sha512)
  dump PATH                          write the NAR of PATH to standard output
  restore PATH                       unpack a NAR from standard input at PATH
${QUERY_USAGE}
  print-env DRV                      the derivation's environment as shell export lines
  check-validity [--print-invalid] PATH…
                                     fail (or print) if a path is not valid
  verify-path PATH…                  re-hash paths: report (status 1) those whose contents changed
  dump-db [PATH…] > DUMP             the registrations of paths (all valid paths by default)
  load-db < DUMP                     register the paths of a dump as valid
  verify [--check-contents]          check that every valid path exists (and its contents)
  gc [--max-freed N[K|M|G|T]]        delete every path no GC root keeps alive
  gc --print-roots | --print-live | --print-dead
                                     list the roots, the live or the dead paths (deletes nothing)
  delete PATH…                       delete these paths, unless they are still alive
  optimise                           replace identical files in the store by hard links to one copy
  realise [-j N] [-k] PATH[!OUT]…    build derivations (or check paths), print the output paths
  log PATH…                          the build log of a derivation or of a built path
  export PATH… > FILE                write the paths with their metadata (nix-store --export)
  import < FILE                      add the paths of an export, print them (nix-store --import)
  path-info [--json] [-r] [-s] [-S] [--sigs] PATH…
                                     what the store knows about paths (nix path-info)
  generate-binary-cache-key NAME SECRET PUBLIC
                                     make an ed25519 key pair for signing paths
  sign --key-file FILE [-r] PATH…    sign paths with a secret key (nix store sign)
  verify-sigs [--sigs-needed N] [--trusted-public-keys KEYS] [--no-contents] [-r] PATH…
                                     check paths' contents and signatures (nix store verify)

The store is $TSNIX_STORE_DIR (state in $TSNIX_STATE_DIR), or /nix/store kept
under $TSNIX_ROOT (default ~/.local/share/tsnix/root).
`;

const OPERATIONS: Record<string, string> = {
  add: 'add',
  '--add': 'add',
  'add-fixed': 'add-fixed',
  '--add-fixed': 'add-fixed',
  dump: 'dump',
  '--dump': 'dump',
  restore: 'restore',
  '--restore': 'restore',
  query: 'query',
  '--query': 'query',
  '-q': 'query',
  'print-env': 'print-env',
  '--print-env': 'print-env',
  'check-validity': 'check-validity',
  '--check-validity': 'check-validity',
  'verify-path': 'verify-path',
  '--verify-path': 'verify-path',
  'dump-db': 'dump-db',
  '--dump-db': 'dump-db',
  'load-db': 'load-db',
  '--load-db': 'load-db',
  verify: 'verify',
  '--verify': 'verify',
  gc: 'gc',
  '--gc': 'gc',
  delete: 'delete',
  '--delete': 'delete',
  optimise: 'optimise',
  '--optimise': 'optimise',
  realise: 'realise',
  '--realise': 'realise',
  '-r': 'realise',
  log: 'log',
  '--read-log': 'log',
  '-l': 'log',
  // in store-copy.ts
  export: 'export',
  '--export': 'export',
  import: 'import',
  '--import': 'import',
  'generate-binary-cache-key': 'generate-binary-cache-key',
  '--generate-binary-cache-key': 'generate-binary-cache-key',
  sign: 'sign',
  'verify-sigs': 'verify-sigs',
  'path-info': 'path-info',
};

/** Command-line text as a byte string. */
const bytes = toBytes;

export async function storeCommand(argv: string[]): Promise<number> {
  const args = takeFeatureFlags(argv);
  settingsWith([]);
  const [first, ...rest0] = args;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(USAGE);
    return first === undefined ? 1 : 0;
  }
  let op = OPERATIONS[first];
  let rest = rest0;
  // -qR, -qd: the query operation with short query flags attached.
  if (op === undefined && /^-q[Rdbuf]+$/.test(first)) {
    op = 'query';
    rest = [...first.slice(2)].map((c) => `-${c}`).concat(rest0);
  }
  if (op === undefined) throw new UsageError(`unknown store operation '${first}' (try 'tsnix store --help')`);

  let store: LocalStore | undefined;
  try {
    store = LocalStore.open();
    switch (op) {
      case 'add':
        return add(store, rest);
      case 'add-fixed':
        return addFixed(store, rest);
      case 'dump':
        return dump(store, rest);
      case 'restore':
        return await restore(store, rest);
      case 'query':
        return await query(store, rest);
      case 'print-env':
        return printEnv(store, rest);
      case 'check-validity':
        return checkValidity(store, rest);
      case 'verify-path':
        return verifyPath(store, rest);
      case 'dump-db':
        return dumpDb(store, rest);
      case 'load-db':
        return loadDb(store, rest);
      case 'verify':
        return verify(store, rest);
      case 'gc':
        return gc(store, rest);
      case 'delete':
        return deletePaths(store, rest);
      case 'optimise':
        return optimise(store, rest);
      case 'realise':
        return await (await import('./store-build.js')).realise(store, rest);
      case 'log':
        return await (await import('./store-build.js')).readLog(store, rest);
      case 'export':
        return (await import('./store-copy.js')).exportCommand(store, rest);
      case 'import':
        return await (await import('./store-copy.js')).importCommand(store, rest);
      case 'generate-binary-cache-key':
        return (await import('./store-copy.js')).generateBinaryCacheKey(rest);
      case 'sign':
        return (await import('./store-copy.js')).signCommand(store, rest);
      case 'verify-sigs':
        return (await import('./store-copy.js')).verifySigsCommand(store, rest);
      case 'path-info':
        return (await import('./store-copy.js')).pathInfoCommand(store, rest);
    }
    return 1;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    try {
      store?.close();
    } catch {
      // the first error is the one to report
    }
    store = undefined;
    writeErr(`error: ${storeErrorMessage(e)}\n`);
    return 1;
  } finally {
    if (store) {
      try {
        store.close();
      } catch (e) {
        writeErr(`error: ${storeErrorMessage(e)}\n`);
        process.exitCode = 1;
      }
    }
  }
}

/** Operands; every argument starting with '-' must be one of `flags` (which are removed and reported). */
function splitArgs(args: string[], flags: readonly string[]): { flags: Set<string>; operands: string[] } {
  const seen = new Set<string>();
  const operands: string[] = [];
  let onlyOperands = false;
  for (const a of args) {
    if (!onlyOperands && a === '--') onlyOperands = true;
    else if (!onlyOperands && a.startsWith('-') && a !== '-') {
      if (!flags.includes(a)) throw new UsageError(`unknown flag '${a}'`);
      seen.add(a);
    } else operands.push(a);
  }
  return { flags: seen, operands };
}

function add(store: LocalStore, args: string[]): number {
  const { operands } = splitArgs(args, []);
  let out = '';
  try {
    for (const a of operands) out += addOne(store, a, 'recursive', 'sha256') + '\n';
  } finally {
    writeOut(out);
  }
  return 0;
}

function addOne(store: LocalStore, arg: string, method: 'recursive' | 'flat', algo: HashAlgo): string {
  const abs = absolutePath(bytes(arg));
  const name = abs.slice(abs.lastIndexOf('/') + 1);
  return store.addPath(abs, { name, method, hashAlgo: algo }).path;
}

function addFixed(store: LocalStore, args: string[]): number {
  const { flags, operands } = splitArgs(args, ['--recursive']);
  const [algoArg, ...paths] = operands;
  if (algoArg === undefined) throw new UsageError('first argument must be hash algorithm');
  let algo: HashAlgo;
  try {
    algo = parseHashAlgo(algoArg); // (blake3: only with its experimental feature)
  } catch (e) {
    if (e instanceof UnknownHashAlgorithmError) throw new UsageError(e.shortMessage);
    throw e;
  }
  const method = flags.has('--recursive') ? 'recursive' : 'flat';
  let out = '';
  try {
    for (const a of paths) out += addOne(store, a, method, algo) + '\n';
  } finally {
    writeOut(out);
  }
  return 0;
}

function onlyOne(operands: string[]): string {
  const [p] = operands;
  if (p === undefined || operands.length !== 1) throw new UsageError('only one argument allowed');
  return p;
}

function dump(store: LocalStore, args: string[]): number {
  const path = onlyOne(splitArgs(args, []).operands);
  for (const chunk of store.dumpPath(bytes(path))) writeAll(1, chunk);
  return 0;
}

async function restore(store: LocalStore, args: string[]): Promise<number> {
  const path = onlyOne(splitArgs(args, []).operands);
  await store.restorePath(process.stdin, bytes(path));
  return 0;
}

function verify(store: LocalStore, args: string[]): number {
  const { flags, operands } = splitArgs(args, ['--check-contents']);
  if (operands.length) throw new UsageError('no arguments expected');
  const r = store.verify({ checkContents: flags.has('--check-contents'), log: (l) => writeErr(l + '\n') });
  if (r.errors) {
    writeErr('warning: not all store errors were fixed\n');
    return 1;
  }
  return 0;
}

// ---------------------------------------------------------------------------
// Garbage collection (src/store/gc.ts)

function gc(store: LocalStore, args: string[]): number {
  let action: GcOptions['action'] | 'print-roots' = 'delete-dead';
  let maxFreed: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--print-roots') action = 'print-roots';
    else if (a === '--print-live') action = 'return-live';
    else if (a === '--print-dead') action = 'return-dead';
    else if (a === '--max-freed') {
      const v = args[++i];
      if (v === undefined) throw new UsageError(`'--max-freed' requires an argument`);
      try {
        maxFreed = parseSize(v);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    } else if (a.startsWith('-')) throw new UsageError(`unknown flag '${a}'`);
    else throw new UsageError('no arguments expected');
  }
  const log = (l: string): void => writeErr(l + '\n');
  if (action === 'print-roots') {
    writeOut(rootLines(findRoots(store, { log })).map((l) => l + '\n').join(''));
    return 0;
  }
  const results = new GcResults();
  const opts: GcOptions = { action, log };
  if (maxFreed !== undefined) opts.maxFreed = maxFreed;
  if (action !== 'delete-dead') {
    collectGarbage(store, opts, results);
    writeOut(results.paths.map((p) => p + '\n').join(''));
    return 0;
  }
  try {
    collectGarbage(store, opts, results);
  } finally {
    writeOut(freedSummary(results) + '\n');
  }
  return 0;
}

function deletePaths(store: LocalStore, args: string[]): number {
  const paths = splitArgs(args, []).operands.map((a) => store.followLinksToStorePath(bytes(a)));
  const results = new GcResults();
  try {
    collectGarbage(store, { action: 'delete-specific', paths, log: (l) => writeErr(l + '\n') }, results);
  } finally {
    writeOut(freedSummary(results) + '\n');
  }
  return 0;
}

function optimise(store: LocalStore, args: string[]): number {
  if (splitArgs(args, []).operands.length) throw new UsageError('no arguments expected');
  const stats = optimiseStore(store, (l) => writeErr(l + '\n'));
  writeErr(`${showBytes(stats.bytesFreed)} freed by hard-linking ${stats.filesLinked} files\n`);
  return 0;
}

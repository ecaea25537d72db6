// What the store knows about paths, in nix-store's output formats: `tsnix
// store query` (nix-store -q), print-env, check-validity, verify-path,
// dump-db and load-db (nix-store --print-env, … --load-db).

import { toBytes } from '../../grammar/errors.js';
import { queryRoots } from '../store/gc.js';
import { rootLines } from '../store/gc-roots.js';
import { dotGraph, graphML, printTree, type GraphSource } from '../store/graphs.js';
import { StoreError } from '../store/compute-store.js';
import { parseHash } from '../store/hash.js';
import { modifiedMessage, type LocalStore } from '../store/local-store.js';
import { compareBytes, parseStorePath } from '../store/store-path.js';
import { UsageError, needValue, readStdin, writeErr, writeOut } from './util.js';

type Query =
  | 'outputs'
  | 'references'
  | 'referrers'
  | 'referrers-closure'
  | 'requisites'
  | 'deriver'
  | 'valid-derivers'
  | 'binding'
  | 'hash'
  | 'size'
  | 'roots'
  | 'tree'
  | 'graph'
  | 'graphml';

const QUERY_FLAGS: Record<string, Query> = {
  '--outputs': 'outputs',
  '--references': 'references',
  '--referrers': 'referrers',
  '--referrers-closure': 'referrers-closure',
  '--requisites': 'requisites',
  '-R': 'requisites',
  '--deriver': 'deriver',
  '-d': 'deriver',
  '--valid-derivers': 'valid-derivers',
  '--binding': 'binding',
  '-b': 'binding',
  '--hash': 'hash',
  '--size': 'size',
  '--roots': 'roots',
  '--tree': 'tree',
  '--graph': 'graph',
  '--graphml': 'graphml',
};

export const QUERY_USAGE = `  query QUERY [-u] [-f] PATH…        QUERY is one of --outputs (the default), --references,
                                     --referrers, --referrers-closure, --requisites (-R)
                                     [--include-outputs], --deriver (-d), --valid-derivers,
                                     --binding (-b) NAME, --hash, --size, --roots, --tree,
                                     --graph (dot), --graphml; -u: a derivation's outputs
                                     instead, -f: built first`;

/** `-qR`, `-qRu`, `-Ru`: short flags written together, one at a time. */
export function splitShortFlags(args: string[]): string[] {
  return args.flatMap((a) => (/^-[Rdbuf]{2,}$/.test(a) ? [...a.slice(1)].map((c) => `-${c}`) : [a]));
}

export async function query(store: LocalStore, args0: string[]): Promise<number> {
  const args = splitShortFlags(args0);
  let q: Query | undefined;
  let bindingName: string | undefined;
  let useOutput = false;
  let forceRealise = false;
  let includeOutputs = false;
  const operands: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const f = QUERY_FLAGS[a];
    if (f !== undefined) {
      if (q !== undefined && q !== f) throw new UsageError(`query type '${a}' conflicts with earlier flag`);
      q = f;
      if (f === 'binding') bindingName = needValue(args, i++, a);
    } else if (a === '--use-output' || a === '-u') useOutput = true;
    else if (a === '--force-realise' || a === '--force-realize' || a === '-f') forceRealise = true;
    else if (a === '--include-outputs') includeOutputs = true;
    else if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown flag '${a}'`);
    else operands.push(a);
  }
  q ??= 'outputs';
  const given = operands.map((a) => store.followLinksToStorePath(toBytes(a)));
  if (forceRealise) {
    // (nix-store -q -f prints only the query's answer, not the outputs)
    const code = await (await import('./store-build.js')).realiseQuietly(store, given);
    if (code !== 0) return code;
  }
  // nix-store's maybeUseOutputs: a derivation's outputs in its place (always for --outputs)
  const expand = (p: string, use: boolean): string[] =>
    use && p.endsWith('.drv') ? [...store.readDerivation(p).outputs.values()].map((o) => o.path) : [p];
  const paths = (use = useOutput): string[] => given.flatMap((p) => expand(p, use));
  let out = '';
  const line = (s: string): void => {
    out += s + '\n';
  };
  try {
    switch (q) {
      case 'outputs':
        for (const p of paths(true)) line(p);
        break;
      case 'references':
      case 'referrers':
      case 'referrers-closure': {
        const set = new Set<string>();
        for (const p of paths()) {
          const found =
            q === 'references'
              ? store.pathInfo(p).references
              : q === 'referrers'
                ? store.queryReferrers(p)
                : store.computeClosure([p], { referrers: true });
          for (const r of found) set.add(r);
        }
        for (const p of store.topoSortPaths(set)) line(p);
        break;
      }
      case 'requisites': {
        const closure = store.computeClosure(paths());
        if (includeOutputs) addOutputClosures(store, closure);
        for (const p of store.topoSortPaths(closure)) line(p);
        break;
      }
      case 'deriver':
        for (const p of given) line(store.queryDeriver(p) ?? 'unknown-deriver');
        break;
      case 'valid-derivers':
        for (const p of given) for (const d of store.queryValidDerivers(p)) line(d);
        break;
      case 'binding':
        for (const p of given) {
          const drvPath = p.endsWith('.drv') ? p : store.queryDeriver(p);
          if (drvPath === undefined) throw new StoreError(`deriver of path '${p}' is not known`);
          const v = store.readDerivation(drvPath).env.get(bindingName!);
          if (v === undefined) throw new StoreError(`derivation '${drvPath}' has no environment binding named '${bindingName}'`);
          line(v);
        }
        break;
      case 'hash':
        for (const p of paths()) line(store.queryNarHash(p).toString());
        break;
      case 'size':
        for (const p of paths()) line(String(store.queryNarSize(p)));
        break;
      case 'roots':
        for (const l of rootLines(queryRoots(store, paths()))) line(l);
        break;
      case 'tree':
        printTree(graphSource(store), paths(), line);
        break;
      case 'graph':
        out += dotGraph(graphSource(store), paths());
        break;
      case 'graphml':
        out += graphML(graphSource(store), paths());
        break;
    }
  } finally {
    writeOut(out);
  }
  return 0;
}

/** The valid outputs of every derivation in `closure`, with their closures, added to it. */
function addOutputClosures(store: LocalStore, closure: Set<string>): void {
  const todo = [...closure];
  while (todo.length) {
    const p = todo.pop()!;
    if (!p.endsWith('.drv')) continue;
    for (const o of store.queryDerivationOutputs(p).values()) {
      if (closure.has(o) || !store.isValidPath(o)) continue;
      for (const q of store.computeClosure([o])) {
        if (closure.has(q)) continue;
        closure.add(q);
        todo.push(q);
      }
    }
  }
}

function graphSource(store: LocalStore): GraphSource {
  return {
    references: (p) => store.pathInfo(p).references,
    sortedReferences: (p) => store.topoSortPaths(store.pathInfo(p).references),
    narSize: (p) => store.queryNarSize(p),
  };
}

/** `tsnix store print-env DRV`: the derivation's environment as shell `export` lines. */
export function printEnv(store: LocalStore, args: string[]): number {
  if (args.length !== 1 || args[0]!.startsWith('-')) throw new UsageError("'--print-env' requires one derivation store path");
  const drvPath = store.followLinksToStorePath(toBytes(args[0]!));
  const drv = store.readDerivation(drvPath);
  const shellEscape = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`;
  let out = '';
  for (const k of [...drv.env.keys()].sort(compareBytes)) out += `export ${k}; ${k}=${shellEscape(drv.env.get(k)!)}\n`;
  // (as nix-store prints them: the escaped arguments inside one more pair of quotes, unescaped)
  out += `export _args; _args='${drv.args.map(shellEscape).join(' ')}'\n`;
  writeOut(out);
  return 0;
}

/** `tsnix store check-validity [--print-invalid] PATH…` */
export function checkValidity(store: LocalStore, args: string[]): number {
  let printInvalid = false;
  const operands: string[] = [];
  for (const a of args) {
    if (a === '--print-invalid') printInvalid = true;
    else if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown flag '${a}'`);
    else operands.push(a);
  }
  let out = '';
  try {
    for (const a of operands) {
      const p = store.followLinksToStorePath(toBytes(a));
      if (store.isValidPath(p)) continue;
      if (!printInvalid) throw new StoreError(`path '${p}' is not valid`);
      out += p + '\n';
    }
  } finally {
    writeOut(out);
  }
  return 0;
}

/**
 * `tsnix store dump-db [PATH…]` (nix-store --dump-db): the registration of
 * the paths (all valid paths, in order, without operands) as nix-store writes
 * it: path, NAR hash (base16), NAR size, deriver, number of references, references.
 */
export function dumpDb(store: LocalStore, args: string[]): number {
  const flag = args.find((a) => a.startsWith('-') && a !== '-');
  if (flag !== undefined) throw new UsageError(`unknown flag '${flag}'`);
  const paths = args.length ? args.map((a) => store.followLinksToStorePath(toBytes(a))) : store.queryAllValidPaths();
  let out = '';
  try {
    for (const p of paths) {
      const info = store.pathInfo(p);
      out += `${p}\n${info.narHash.format('base16', false)}\n${info.narSize}\n${info.deriver ?? ''}\n${info.references.length}\n`;
      for (const r of info.references) out += r + '\n';
    }
  } finally {
    writeOut(out);
  }
  return 0;
}

/** `tsnix store load-db < DUMP` (nix-store --load-db): registers the paths of a dump-db as valid. */
export function loadDb(store: LocalStore, args: string[]): number {
  if (args.length) throw new UsageError('no arguments expected');
  const lines = readStdin().split('\n');
  let i = 0;
  const next = (what: string): string => {
    const l = lines[i++];
    if (l === undefined) throw new StoreError(`incomplete registration in the dump: missing ${what}`);
    return l;
  };
  const entries: Parameters<LocalStore['loadRegistrations']>[0][number][] = [];
  while (i < lines.length && lines[i] !== '') {
    const path = next('path');
    const narHash = parseHash(next('hash'), 'sha256');
    const sizeText = next('size');
    if (!/^\d+$/.test(sizeText)) throw new StoreError(`invalid NAR size '${sizeText}' of '${path}' in the dump`);
    const deriver = next('deriver');
    const countText = next('number of references');
    if (!/^\d+$/.test(countText)) throw new StoreError(`invalid number of references '${countText}' of '${path}' in the dump`);
    const references: string[] = [];
    for (let n = Number(countText); n > 0; n--) references.push(next('reference'));
    for (const p of [path, ...references, ...(deriver ? [deriver] : [])]) parseStorePath(p, store.storeDir);
    entries.push({ path, narHash, narSize: Number(sizeText), references, ...(deriver ? { deriver } : {}) });
  }
  store.loadRegistrations(entries);
  return 0;
}

/**
 * `tsnix store verify-path PATH…` (nix-store --verify-path): re-hashes each
 * path; a path whose contents changed is reported, and the status is 1.
 */
export function verifyPath(store: LocalStore, args: string[]): number {
  let status = 0;
  for (const a of args) {
    const p = store.followLinksToStorePath(toBytes(a));
    const found = store.checkContents(p);
    if (found) {
      writeErr(modifiedMessage(p, found) + '\n');
      status = 1;
    }
  }
  return status;
}

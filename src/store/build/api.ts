/**
 * The build engine's public interface (implemented in scheduler.ts): what the
 * CLI (`tsnix build`, `tsnix store realise`) and the REPL (`:b`) call.
 */

/** What to build: a derivation and the outputs wanted (all when omitted). */
export interface BuildTarget {
  drvPath: string;
  outputs?: string[];
}

/** Progress of a build run, for live views (REPL, terminal) and plain logs. */
export interface BuildEvents {
  /** Before anything runs: the derivations that will be built (CppNix's "these N derivations will be built:"). */
  plan?(drvPaths: readonly string[]): void;
  /** A builder started. */
  started?(drvPath: string): void;
  /** A line the builder wrote (stdout and stderr, without the newline). */
  log?(drvPath: string, line: string): void;
  /** A derivation finished (error is the message if it failed). */
  finished?(drvPath: string, error?: string): void;
  /** Waiting for another process's lock on output paths. */
  waiting?(drvPath: string, paths: readonly string[]): void;
  /** At the end of a run that built something: how well the builder slots were used. */
  stats?(s: BuildStats): void;
  /** A message CppNix prints on stderr (`building '…'...`, `waiting for lock on …`, errors). */
  message?(text: string): void;
}

export interface BuildStats {
  /** Derivations built. */
  built: number;
  maxJobs: number;
  /** From the first builder start to the last finish, in ms. */
  wallMs: number;
  /** Sum over goals of the time from taking a slot to giving it back, in ms. */
  busyMs: number;
  /** Slot time lost while a goal was ready and a slot free (the scheduler's own delay), in ms. */
  schedulerIdleMs: number;
  /** Slot time free because no goal was ready (the shape of the graph), in ms. */
  graphIdleMs: number;
}

/** A binary cache builds may fetch outputs from instead of building them (`substituters`). */
export interface Substituter {
  /** As messages name it, e.g. `file:///srv/cache`. */
  readonly url: string;
  /** Download and unpacked sizes of the closure of `paths` not yet valid, or undefined if the cache lacks any of it. */
  query(paths: readonly string[]): { download: number; unpacked: number; paths: string[] } | undefined;
  /** Copy the closure of `paths` into the store (checked as the cache's policy says); `log` gets `copying path …` lines. */
  substitute(paths: readonly string[], log: (line: string) => void): void;
}

export interface BuildOptions {
  /** Concurrent builders (`-j`); default 1. */
  maxJobs?: number;
  /** NIX_BUILD_CORES for each builder (`--cores`); default the number of CPUs. */
  cores?: number;
  /** Build what can be built after a failure (`--keep-going`). */
  keepGoing?: boolean;
  events?: BuildEvents;
  /** The system this machine builds for (default: detected, e.g. `x86_64-linux`). */
  system?: string;
  /** Features this machine supports (default: benchmark, big-parallel, nixos-test and kvm if /dev/kvm exists). */
  systemFeatures?: string[];
  /** Binary caches to try before building a derivation whose outputs are missing, in order. */
  substituters?: readonly Substituter[];
  /** Only report what would be built (`--dry-run`). */
  dryRun?: boolean;
  /** Aborting kills running builders (SIGKILL to their process group) and fails the run. */
  signal?: AbortSignal;
}

/** drvPath -> output name -> output path, for every target. */
export type BuildResults = Map<string, Map<string, string>>;

/** A build run that failed: `message` is what to print after `error: `. */
export class BuildError extends Error {
  constructor(
    message: string,
    /** Exit status as CppNix's: 100 for failed builds (+2 with a hash mismatch), 1 otherwise. */
    readonly status = 1,
  ) {
    super(message);
    this.name = 'BuildError';
  }
}

/** Where the build log of a derivation is kept: `<stateDir>/log/drvs/<2 chars>/<rest of the base name>`. */
export function buildLogPath(stateDir: string, drvPath: string): string {
  const base = drvPath.slice(drvPath.lastIndexOf('/') + 1);
  return `${stateDir}/log/drvs/${base.slice(0, 2)}/${base.slice(2)}`;
}

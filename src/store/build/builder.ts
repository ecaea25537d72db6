/**
 * Running one builder: a fresh build directory, CppNix's environment, the
 * builder in its own process group (so that it and its children can be
 * killed), its output forwarded line by line and kept as the build log.
 *
 * In the default store (logical `/nix/store` kept under a root folder) the
 * builder runs in a private mount namespace in which the physical store is
 * bind-mounted on the logical one (DESIGN.md); with TSNIX_STORE_DIR the two
 * are the same and the builder runs directly.
 */
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decompressXz } from '../binary-cache.js';
import type { Derivation } from '../derivation.js';
import { removeTree } from '../local-store.js';
import { restoreNarSync } from '../nar.js';
import { isRelocated, toPhysical, type StoreLocation } from '../store-location.js';
import { builderEnvironment } from './environment.js';

function fsStr(p: string): string {
  return Buffer.from(p, 'latin1').toString('utf8');
}

export interface RunOptions {
  drvPath: string;
  drv: Derivation;
  location: StoreLocation;
  cores: number;
  /** Where the log goes (a byte-string path), or undefined for none. */
  logFile?: string;
  /** Called with each complete line of output (without the newline), and the rest at the end. */
  onLine?: (line: string) => void;
  /** Called with raw output bytes (for showing the log as it comes). */
  onData?: (data: Buffer) => void;
  signal?: AbortSignal;
}

export type RunResult = { ok: true } | { ok: false; message: string; kind: 'failed' | 'killed' | 'aborted' };

const SIGNAL_NAMES: Record<string, string> = {
  SIGHUP: 'Hangup',
  SIGINT: 'Interrupt',
  SIGQUIT: 'Quit',
  SIGILL: 'Illegal instruction',
  SIGABRT: 'Aborted',
  SIGFPE: 'Floating point exception',
  SIGKILL: 'Killed',
  SIGSEGV: 'Segmentation fault',
  SIGPIPE: 'Broken pipe',
  SIGALRM: 'Alarm clock',
  SIGTERM: 'Terminated',
  SIGBUS: 'Bus error',
  SIGUSR1: 'User defined signal 1',
  SIGUSR2: 'User defined signal 2',
};

const SIGNAL_NUMBERS: Record<string, number> = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGABRT: 6, SIGFPE: 8, SIGKILL: 9, SIGUSR1: 10,
  SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15, SIGBUS: 7,
};

/** A fresh build directory `<TMPDIR>/nix-build-<drv name>.drv-N` (N from 0, the first free one). */
export function createBuildDir(drvPath: string): string {
  const base = Buffer.from(process.env.TMPDIR || tmpdir(), 'utf8').toString('latin1');
  const name = drvPath.slice(drvPath.lastIndexOf('/') + 34);
  for (let n = 0; ; n++) {
    const dir = `${base}/nix-build-${name}-${n}`;
    try {
      mkdirSync(fsStr(dir), { mode: 0o700 });
      return dir;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

/** Why builds in this store cannot run, or undefined if they can. */
export function namespaceProblem(loc: StoreLocation): string | undefined {
  if (!isRelocated(loc)) return undefined;
  const mountPoint = loc.storeDir.slice(0, loc.storeDir.lastIndexOf('/')) || '/';
  if (!existsSync(fsStr(mountPoint))) {
    return (
      `cannot build in the store '${loc.storeDir}' kept in '${loc.realStoreDir}': builders need '${mountPoint}' ` +
      `to exist so that the store can be mounted there; set TSNIX_STORE_DIR (and TSNIX_STATE_DIR) to build in a store of its own`
    );
  }
  if (!existsSync('/usr/bin/unshare') && !existsSync('/bin/unshare')) {
    return `cannot build in the store '${loc.storeDir}': 'unshare' (util-linux) is needed to give builders a private mount namespace; set TSNIX_STORE_DIR to build in a store of its own`;
  }
  return undefined;
}

export async function runBuilder(o: RunOptions): Promise<RunResult> {
  const buildTop = createBuildDir(o.drvPath);
  let logFd: number | undefined;
  try {
    const { env, files } = builderEnvironment(o.drv, {
      buildTop,
      storeDir: o.location.storeDir,
      cores: o.cores,
      parentEnv: process.env,
    });
    for (const [name, contents] of files) {
      writeFileSync(fsStr(join(buildTop, name)), Buffer.from(contents, 'latin1'), { mode: 0o600 });
    }
    if (o.logFile !== undefined) {
      mkdirSync(fsStr(o.logFile.slice(0, o.logFile.lastIndexOf('/'))), { recursive: true });
      logFd = openSync(fsStr(o.logFile), 'w', 0o644);
    }
    // sorted, as CppNix passes it (what the builder sees in /proc/self/environ)
    const sortedEnv = [...env].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    let childEnv: Record<string, string> = {};
    for (const [k, v] of sortedEnv) childEnv[fsStr(k)] = fsStr(v);

    if (o.drv.builder.startsWith('builtin:')) {
      const res = await runBuiltin(o);
      if (!res.ok) {
        const msg = Buffer.from(`error: ${res.message}\n`, 'latin1');
        if (logFd !== undefined) writeSync(logFd, msg);
        o.onData?.(msg);
        o.onLine?.(`error: ${res.message}`);
        return { ok: false, kind: 'failed', message: `builder for '${o.drvPath}' failed with exit code 1` };
      }
      return res;
    }
    const builderFile = toPhysical(o.location, o.drv.builder);
    if (builderFile.startsWith('/') && !existsSync(fsStr(builderFile))) {
      const msg = Buffer.from(`error: executing '${o.drv.builder}': No such file or directory\n`, 'latin1');
      if (logFd !== undefined) writeSync(logFd, msg);
      o.onData?.(msg);
      o.onLine?.(msg.toString('latin1').slice(0, -1));
      return { ok: false, kind: 'failed', message: `builder for '${o.drvPath}' failed with exit code 1` };
    }
    let file = fsStr(o.drv.builder);
    let args = o.drv.args.map(fsStr);
    if (isRelocated(o.location)) {
      const problem = namespaceProblem(o.location);
      if (problem) return { ok: false, kind: 'failed', message: problem };
      const mountPoint = o.location.storeDir.slice(0, o.location.storeDir.lastIndexOf('/'));
      const source = o.location.realStoreDir.slice(0, o.location.realStoreDir.lastIndexOf('/'));
      const userNs = typeof process.getuid === 'function' && process.getuid() !== 0 ? ['--user', '--map-root-user'] : [];
      args = [
        ...userNs,
        '--mount',
        '--propagation',
        'private',
        '/bin/sh',
        '-c',
        // the shell would reorder the environment: env -i sets it afresh, in order
        '"$1" --bind "$2" "$3" || exit 1; shift 3; exec "$@"',
        'tsnix-build',
        existsSync('/usr/bin/mount') ? '/usr/bin/mount' : '/bin/mount',
        fsStr(source),
        fsStr(mountPoint),
        existsSync('/usr/bin/env') ? '/usr/bin/env' : '/bin/env',
        '-i',
        ...Object.entries(childEnv).map(([k, v]) => `${k}=${v}`),
        file,
        ...args,
      ];
      childEnv = {};
      file = existsSync('/usr/bin/unshare') ? '/usr/bin/unshare' : '/bin/unshare';
    }

    // If tsnix dies (even by SIGKILL), the builder dies with it, so that no
    // orphan keeps writing an output that the next attempt removes and rebuilds.
    const setpriv = existsSync('/usr/bin/setpriv') ? '/usr/bin/setpriv' : undefined;
    if (setpriv) {
      args = ['--pdeathsig', 'KILL', file, ...args];
      file = setpriv;
    }

    return await new Promise<RunResult>((resolve) => {
      let pending = '';
      const write = (chunk: Buffer): void => {
        if (logFd !== undefined) writeSync(logFd, chunk);
        o.onData?.(chunk);
        if (o.onLine) {
          pending += chunk.toString('latin1');
          let nl: number;
          while ((nl = pending.indexOf('\n')) >= 0) {
            o.onLine(pending.slice(0, nl));
            pending = pending.slice(nl + 1);
          }
        }
      };
      let child;
      try {
        child = spawn(file, args, {
          cwd: fsStr(buildTop),
          env: childEnv,
          stdio: ['ignore', 'pipe', 'pipe'],
          detached: true,
        });
      } catch (e) {
        write(Buffer.from(`error: executing '${o.drv.builder}': ${(e as Error).message}\n`, 'latin1'));
        resolve({ ok: false, kind: 'failed', message: `builder for '${o.drvPath}' failed with exit code 1` });
        return;
      }
      let spawnError: NodeJS.ErrnoException | undefined;
      let aborted = false;
      const kill = (): void => {
        aborted = true;
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // gone
        }
      };
      o.signal?.addEventListener('abort', kill, { once: true });
      child.stdout.on('data', write);
      child.stderr.on('data', write);
      child.on('error', (e: NodeJS.ErrnoException) => {
        spawnError = e;
      });
      child.on('close', (code, sig) => {
        o.signal?.removeEventListener('abort', kill);
        // the builder's children may live on in its process group: end them
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // none left
        }
        if (pending !== '' && o.onLine) o.onLine(pending);
        if (aborted) {
          resolve({ ok: false, kind: 'aborted', message: `build of '${o.drvPath}' was interrupted` });
        } else if (spawnError) {
          const msg = spawnError.code === 'ENOENT' ? 'No such file or directory' : spawnError.code === 'EACCES' ? 'Permission denied' : spawnError.message;
          write(Buffer.from(`error: executing '${o.drv.builder}': ${msg}\n`, 'latin1'));
          if (pending !== '' && o.onLine) o.onLine(pending);
          resolve({ ok: false, kind: 'failed', message: `builder for '${o.drvPath}' failed with exit code 1` });
        } else if (sig) {
          const num = SIGNAL_NUMBERS[sig] ?? 0;
          resolve({
            ok: false,
            kind: 'killed',
            message: `builder for '${o.drvPath}' failed due to signal ${num} (${SIGNAL_NAMES[sig] ?? sig})`,
          });
        } else if (code !== 0) {
          resolve({ ok: false, kind: 'failed', message: `builder for '${o.drvPath}' failed with exit code ${code}` });
        } else {
          resolve({ ok: true });
        }
      });
    });
  } finally {
    if (logFd !== undefined) closeSync(logFd);
    removeTree(Buffer.from(buildTop, 'latin1'));
  }
}

/**
 * The builders CppNix runs inside itself. `builtin:fetchurl` (used by
 * <nix/fetchurl.nix>) fetches `url` into `$out`: file:// URLs are copied,
 * http(s) URLs downloaded; the hash is checked afterwards like any fixed
 * output's. With `unpack = true` what is fetched is a NAR (xz-compressed
 * when the URL ends in `.xz`), restored at `$out`, as CppNix does.
 */
async function runBuiltin(o: RunOptions): Promise<RunResult | { ok: false; message: string; kind: 'failed' }> {
  const name = o.drv.builder.slice('builtin:'.length);
  if (name !== 'fetchurl') return { ok: false, kind: 'failed', message: `unsupported builtin builder '${name}'` };
  const url = o.drv.env.get('url') ?? '';
  const out = o.drv.env.get('out');
  if (out === undefined) return { ok: false, kind: 'failed', message: `builtin:fetchurl: no 'out' output` };
  const unpack = o.drv.env.get('unpack') === '1';
  const phys = toPhysical(o.location, out);
  const dest = fsStr(phys);
  let data: Buffer;
  try {
    if (url.startsWith('file://')) {
      data = readFileSync(decodeURIComponent(fsStr(url.slice('file://'.length))));
    } else if (/^https?:\/\//.test(url)) {
      const res = await fetch(fsStr(url), { signal: o.signal });
      if (!res.ok) throw new Error(`HTTP error ${res.status}`);
      data = Buffer.from(await res.arrayBuffer());
    } else {
      return { ok: false, kind: 'failed', message: `unable to download '${url}': unsupported URL scheme` };
    }
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'No such file or directory' : err.message;
    return { ok: false, kind: 'failed', message: `unable to download '${url}': ${why}` };
  }
  const line = `downloading '${url}'...`;
  o.onLine?.(line);
  const executable = o.drv.env.get('executable') === '1';
  if (!unpack) {
    writeFileSync(dest, data, { mode: executable ? 0o755 : 0o644 });
    return { ok: true };
  }
  try {
    if (url.endsWith('.xz')) data = decompressXz(data);
    // (a malformed NAR, or one with a '..' or '/' in a name, is refused and nothing is left at $out)
    // (`phys`, bytes: `dest` is decoded for node:fs's string API)
    restoreNarSync(data, phys);
    if (executable) chmodSync(dest, 0o755);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return { ok: false, kind: 'failed', message: `builtin:fetchurl: unpacking '${url}': ${why}` };
  }
  return { ok: true };
}

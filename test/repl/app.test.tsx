// The Ink interface, driven through ink-testing-library with the session in
// this thread: prompt, printing, line editing, history, completion,
// multi-line input and the explorer.

import fs from 'node:fs';
import path from 'node:path';
import React from 'react';
import { cleanup, render } from 'ink-testing-library';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { App } from '../../src/repl/app.js';
import { setBuildEngine, type BuildDerivations } from '../../src/repl/build.js';
import { BuildError } from '../../src/store/build/api.js';
import { OutputBus } from '../../src/repl/bus.js';
import { LocalEngine } from '../../src/repl/engine.js';
import { History } from '../../src/repl/history.js';
import { tempEnv, type TempEnv } from './helpers.js';

let t: TempEnv;
beforeEach(() => {
  t = tempEnv();
});
afterEach(() => {
  cleanup();
  setBuildEngine(null);
  t.cleanup();
});

const KEY = {
  enter: '\r',
  left: '\x1b[D',
  right: '\x1b[C',
  up: '\x1b[A',
  down: '\x1b[B',
  home: '\x1b[H',
  end: '\x1b[F',
  backspace: '\x7f',
  tab: '\t',
  esc: '\x1b',
  ctrl: (c: string) => String.fromCharCode(c.charCodeAt(0) - 96),
};

// eslint-disable-next-line no-control-regex
const strip = (s: string) => s.replace(/\x1b\[[0-9;?]*[a-zA-Z]/g, '');

async function until(f: () => boolean, what: () => string, tries = 200): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (f()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out; screen:\n${what()}`);
}

function start(opts: { color?: boolean; historyFile?: string } = {}) {
  const bus = new OutputBus();
  const engine = new LocalEngine({ files: [], options: [], searchPath: [], autoArgs: [], color: opts.color ?? false, env: t.env, cwd: t.dir }, bus);
  const history = new History(opts.historyFile ?? path.join(t.dir, 'history'));
  let exited = false;
  const r = render(<App engine={engine} bus={bus} history={history} banner="Welcome to tsnix 0.1.0. Type :? for help." onExit={() => (exited = true)} />);
  const screen = () => strip(r.lastFrame() ?? '');
  const type = async (...keys: string[]) => {
    for (const k of keys) {
      r.stdin.write(k);
      await new Promise((res) => setTimeout(res, 5));
    }
  };
  const waitFor = (s: string | RegExp) => until(() => (typeof s === 'string' ? screen().includes(s) : s.test(screen())), screen);
  return { r, screen, type, waitFor, exited: () => exited, engine };
}

describe('the prompt', () => {
  it('shows the banner and evaluates what is entered', async () => {
    const a = start();
    await a.waitFor('nix-repl>');
    expect(a.screen()).toMatch(/^Welcome to tsnix 0\.1\.0\. Type :\? for help\.\n\nnix-repl>\s*$/);
    await a.type('1 + 2', KEY.enter);
    await a.waitFor('3\n');
    expect(a.screen()).toMatch(/nix-repl> 1 \+ 2\n3\n\nnix-repl>\s*$/);
    await a.type('{ a = 1; b = { }; }', KEY.enter);
    await a.waitFor('{ a = 1; b = { ... }; }\n\nnix-repl>');
    await a.type(':foo', KEY.enter);
    await a.waitFor("error: unknown command ':foo'\n\nnix-repl>");
  });

  it('colours values', async () => {
    const a = start({ color: true });
    await a.type('42', KEY.enter);
    await until(() => /\x1b\[36m[^\n]*42/.test(a.r.lastFrame() ?? ''), () => JSON.stringify(a.r.lastFrame()));
  });

  it('edits the line: cursor keys, Home/End, Ctrl-A/E/K/U/W', async () => {
    const a = start();
    await a.type('2 * 3', KEY.home, '1 + ', KEY.end, ' + 4', KEY.enter);
    await a.waitFor('nix-repl> 1 + 2 * 3 + 4\n11\n');
    await a.type('10 - 1', KEY.left, KEY.backspace, KEY.backspace, '+ ', KEY.enter);
    await a.waitFor('nix-repl> 10 + 1\n11\n');
    await a.type('garbage here', KEY.ctrl('a'), KEY.ctrl('k'), '5', KEY.ctrl('e'), ' * 2', KEY.enter);
    await a.waitFor('nix-repl> 5 * 2\n10\n');
    await a.type('junk', KEY.ctrl('u'), '7 junk', KEY.ctrl('w'), KEY.enter);
    await a.waitFor(/nix-repl> 7 *\n7\n/);
    await a.type('3', KEY.left, KEY.right, '3', KEY.left, KEY.left, KEY.ctrl('d'), KEY.enter);
    await a.waitFor('nix-repl> 3\n3\n');
  });

  it('continues an incomplete expression on the next line', async () => {
    const a = start();
    await a.type('{ a = 1;', KEY.enter);
    await a.waitFor(/nix-repl> \{ a = 1;\n\s*$/);
    await a.type('b = "x"; }', KEY.enter);
    await a.waitFor('nix-repl> { a = 1;\n          b = "x"; }\n{ a = 1; b = "x"; }\n\nnix-repl>');
    // Ctrl-C abandons an incomplete input
    await a.type('[ 1', KEY.enter, '2', KEY.ctrl('c'));
    await a.waitFor(/ {10}2\^C\nnix-repl>\s*$/);
    await a.type('3', KEY.enter);
    await a.waitFor('nix-repl> 3\n3\n');
  });

  it('Ctrl-D on an empty line ends the REPL', async () => {
    const a = start();
    await a.type('1', KEY.enter);
    await a.waitFor('1\n');
    await a.type(KEY.ctrl('d'));
    await until(a.exited, a.screen);
  });

  it(':q ends the REPL', async () => {
    const a = start();
    await a.type(':q', KEY.enter);
    await until(a.exited, a.screen);
  });
});

describe('history', () => {
  it('recalls entries with ↑/↓ and keeps them across sessions', async () => {
    const file = path.join(t.dir, 'data', 'tsnix', 'repl-history');
    const a = start({ historyFile: file });
    await a.type('1 + 1', KEY.enter, 'x = 5', KEY.enter, '{ a = 1;', KEY.enter, 'b = 2; }', KEY.enter);
    await a.waitFor('{ a = 1; b = 2; }');
    expect(fs.readFileSync(file, 'utf8')).toBe('1 + 1\nx = 5\n{ a = 1;\\nb = 2; }\n');
    a.r.unmount();

    const b = start({ historyFile: file });
    await b.type(KEY.up);
    await b.waitFor('nix-repl> { a = 1;\n          b = 2; }');
    await b.type(KEY.up, KEY.up);
    await b.waitFor(/nix-repl> 1 \+ 1 *$/);
    await b.type(KEY.down);
    await b.waitFor(/nix-repl> x = 5 *$/);
    await b.type(KEY.down, KEY.down);
    await b.waitFor(/nix-repl>\s*$/);
    await b.type('draft', KEY.up, KEY.down);
    await b.waitFor(/nix-repl> draft *$/);
    await b.type(KEY.ctrl('u'), KEY.up, KEY.up, KEY.up, KEY.enter);
    await b.waitFor('nix-repl> 1 + 1\n2\n');
  });
});

describe('completion', () => {
  it('completes builtins, variables and attribute paths, forcing only what is needed', async () => {
    const a = start();
    await a.type('builtins.mapA', KEY.tab);
    await a.waitFor(/nix-repl> builtins\.mapAttrs *$/);
    await a.type(KEY.ctrl('u'), 'builtins.ma', KEY.tab);
    await a.waitFor(/\nbuiltins\.map +builtins\.mapAttrs +builtins\.match/);
    await a.type(KEY.ctrl('u'), 'xs = { foo = { bar = 1; }; fob = throw "never"; }', KEY.enter);
    await a.type('xs.foo.', KEY.tab);
    await a.waitFor(/nix-repl> xs\.foo\.bar *$/);
    await a.type(KEY.ctrl('u'), 'toStri', KEY.tab);
    await a.waitFor(/nix-repl> toString *$/);
    await a.type(KEY.ctrl('u'), ':rel', KEY.tab);
    await a.waitFor(/nix-repl> :reload *$/);
    expect(a.screen()).not.toContain('error');
  });
});

describe('the explorer (:x)', () => {
  it('opens values on demand, shows errors in place and returns on Esc', async () => {
    const a = start();
    await a.type(':x { a = 1; b = { c = throw "bad"; d = "ok"; }; l = [ 10 20 ]; }', KEY.enter);
    await a.waitFor('▸ { a = 1; b');
    await a.type(KEY.right);
    await a.waitFor('· b = …');
    expect(a.screen()).toMatch(/^ {4}a = 1$/m);
    expect(a.screen()).toContain('· l = …');
    await a.type(KEY.down, KEY.down, KEY.right);
    await a.waitFor('▾ b = { 2 attributes }');
    expect(a.screen()).toContain('· c = …');
    expect(a.screen()).toMatch(/^ +d = "ok"$/m);
    await a.type(KEY.down, KEY.right);
    await a.waitFor('✗ c error: bad');
    await a.type(KEY.down, KEY.left, KEY.left);
    await a.waitFor('▸ b = { 2 attributes }');
    expect(a.screen()).not.toMatch(/^ +d = "ok"$/m);
    await a.type(KEY.down, KEY.right);
    await a.waitFor('▾ l = [ 2 elements ]');
    expect(a.screen()).toMatch(/^ {6}\[0\] = 10$/m);
    await a.type(KEY.esc);
    await a.waitFor(/\n\nnix-repl>\s*$/);
    await a.type('1', KEY.enter);
    await a.waitFor('nix-repl> 1\n1\n');
  });
});

describe(':b progress', () => {
  const DRV = 'd = derivation { name = "hello"; system = "x86_64-linux"; builder = "/bin/sh"; }';

  it('shows running builds with their last log line, then the outputs', async () => {
    let finish!: () => void;
    const fake: BuildDerivations = async (store, targets, opts) => {
      const drv = targets[0]!.drvPath;
      opts.events?.plan?.([drv]);
      opts.events?.started?.(drv);
      opts.events?.log?.(drv, 'compiling things');
      await new Promise<void>((r) => (finish = r));
      opts.events?.finished?.(drv);
      return new Map([[drv, new Map([['out', `${store.storeDir}/00000000000000000000000000000000-hello`]])]]);
    };
    setBuildEngine(fake);
    const a = start();
    await a.type(DRV, KEY.enter, ':b d', KEY.enter);
    await a.waitFor(/\[0\/1 built\] \(Ctrl-C interrupts\)\nbuilding hello \(\d+s\)  compiling things/);
    finish();
    await a.waitFor(/This derivation produced the following outputs:\n  out -> \S+-hello\n\nnix-repl>/);
    expect(a.screen()).not.toContain('compiling things');
  });

  it('Ctrl-C interrupts a build', async () => {
    const fake: BuildDerivations = (_store, targets, opts) =>
      new Promise((_res, rej) => {
        opts.events?.started?.(targets[0]!.drvPath);
        opts.signal?.addEventListener('abort', () => rej(new BuildError('build of hello interrupted')));
      });
    setBuildEngine(fake);
    const a = start();
    await a.type(DRV, KEY.enter, ':b d', KEY.enter);
    await a.waitFor(/building hello/);
    await a.type(KEY.ctrl('c'));
    await a.waitFor(/\nerror: build of hello interrupted\n\nnix-repl>/);
    await a.type('1', KEY.enter);
    await a.waitFor('nix-repl> 1\n1\n');
  });
});

describe(':b options', () => {
  it('builds with the settings tsnix build uses: max-jobs, cores, keep-going, substituters', async () => {
    const cache = path.join(t.dir, 'cache');
    fs.mkdirSync(cache);
    fs.writeFileSync(path.join(cache, 'nix-cache-info'), `StoreDir: ${t.env.TSNIX_STORE_DIR}\n`);
    let seen: Parameters<BuildDerivations>[2] | undefined;
    const fake: BuildDerivations = async (store, targets, opts) => {
      seen = opts;
      return new Map([[targets[0]!.drvPath, new Map([['out', `${store.storeDir}/00000000000000000000000000000000-hello`]])]]);
    };
    setBuildEngine(fake);
    const bus = new OutputBus();
    const options: [string, string][] = [
      ['max-jobs', '3'],
      ['cores', '2'],
      ['keep-going', 'true'],
      ['substituters', `file://${cache}`],
    ];
    const engine = new LocalEngine({ files: [], options, searchPath: [], autoArgs: [], color: false, env: t.env, cwd: t.dir }, bus);
    const r = render(<App engine={engine} bus={bus} history={new History(path.join(t.dir, 'history'))} banner="" onExit={() => {}} />);
    const screen = () => strip(r.lastFrame() ?? '');
    // (generous waits: the first :b opens the database, slow on a loaded machine)
    await until(() => screen().includes('nix-repl>'), screen, 1000);
    r.stdin.write('d = derivation { name = "hello"; system = "x86_64-linux"; builder = "/bin/sh"; }');
    r.stdin.write(KEY.enter);
    r.stdin.write(':b d');
    r.stdin.write(KEY.enter);
    await until(() => screen().includes('out -> '), screen, 1000);
    expect(seen?.maxJobs).toBe(3);
    expect(seen?.cores).toBe(2);
    expect(seen?.keepGoing).toBe(true);
    expect(seen?.substituters?.length).toBe(1);
  });
});

// Two processes writing to a new store at the same moment: the second looks
// for the database, does not find it, and lists the store folder only after
// the first has created the database and written a path there. (Seen once in
// CI as "refusing to write to …: it is not empty and is not a tsnix store".)
// The other process is simulated in-process: node:fs's readdirSync is wrapped
// so that, at the chosen moment, another LocalStore writes to the same store.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';

const hook: { before: ((p: unknown) => void) | null } = { before: null };

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const readdirSync = ((p: unknown, ...rest: unknown[]) => {
    const f = hook.before;
    if (f) {
      hook.before = null;
      f(p);
    }
    return (fs.readdirSync as (...a: unknown[]) => unknown)(p, ...rest);
  }) as typeof fs.readdirSync;
  return { ...fs, default: { ...fs, readdirSync }, readdirSync };
});

const { LocalStore } = await import('../../src/store/local-store.js');
const { storeLocationAt } = await import('../../src/store/store-location.js');

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) {
    execFileSync('chmod', ['-R', 'u+w', d]); // (store files are read-only)
    rmSync(d, { recursive: true, force: true });
  }
});

describe('a new store written by two processes at once', () => {
  it('accepts the folder when the other process created the database before it wrote there', () => {
    const base = mkdtempSync(join(tmpdir(), 'tsnix-store-race-'));
    dirs.push(base);
    const loc = storeLocationAt(join(base, 'store'), join(base, 'var'));
    const mine = new LocalStore({ location: loc, autoCommit: false });
    const other = new LocalStore({ location: loc, autoCommit: false });
    let otherPath = '';
    let listed = '';
    // The other store writes between this one's database check and its listing of the folder.
    hook.before = (p) => {
      listed = Buffer.isBuffer(p) ? p.toString('latin1') : String(p);
      otherPath = other.addText('other', 'written by the other process', []);
      other.close();
    };
    const myPath = mine.addText('mine', 'written by this process', []);
    mine.close();
    expect(listed).toBe(join(base, 'store'));
    expect(otherPath).toMatch(/-other$/);
    const check = new LocalStore({ location: loc, autoCommit: false });
    expect(check.isValidPath(otherPath)).toBe(true);
    expect(check.isValidPath(myPath)).toBe(true);
    check.close();
  });

  it('still refuses a folder with files of its own and no database', () => {
    const base = mkdtempSync(join(tmpdir(), 'tsnix-store-race-'));
    dirs.push(base);
    const loc = storeLocationAt(join(base, 'store'), join(base, 'var'));
    const mine = new LocalStore({ location: loc, autoCommit: false });
    hook.before = () => {
      // someone else's file appears, but no tsnix database
      mkdirSync(join(base, 'store', 'someone-elses'), { recursive: true });
    };
    expect(() => mine.addText('mine', 'x', [])).toThrow(/refusing to write to .* it is not empty and is not a tsnix store/);
    mine.close();
  });
});

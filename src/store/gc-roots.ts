// GC roots: `--add-root` symlinks.  A root is a symlink from the user's
// chosen path to the (physical) store path, registered as an indirect root
// in the state directory's gcroots/auto folder (the collector comes with the
// build issue; registering now keeps those paths alive then).

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { LocalStore } from './local-store.js';

function fsPath(p: string): string {
  return Buffer.from(p, 'latin1').toString('utf8');
}

/** Makes `link` point at the store path and registers it; returns the link's absolute path (a byte string). */
export function addIndirectRoot(store: LocalStore, storePath: string, link: string): string {
  const target = store.toPhysical(storePath);
  const abs = path.resolve(link);
  try {
    fs.unlinkSync(abs);
  } catch {
    // not there
  }
  fs.symlinkSync(fsPath(target), abs);
  const auto = path.join(fsPath(store.location.stateDir), 'gcroots', 'auto');
  fs.mkdirSync(auto, { recursive: true });
  const name = crypto.createHash('sha256').update(abs).digest('hex').slice(0, 32);
  const reg = path.join(auto, name);
  try {
    fs.unlinkSync(reg);
  } catch {
    // not there
  }
  fs.symlinkSync(abs, reg);
  return Buffer.from(abs, 'utf8').toString('latin1');
}

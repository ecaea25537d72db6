/** Build and inspect file trees described as in nar.json (see the vectors README). */
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type TreeDesc =
  | { type: 'regular'; executable: boolean; size: number; contents_base64: string; contents_utf8?: string }
  | { type: 'symlink'; target: string }
  | { type: 'directory'; entries: Record<string, TreeDesc> };

const SLASH = Buffer.from('/');

/** Join a Buffer path and a (Unicode) name as UTF-8 bytes. */
export function child(dir: Buffer, name: string): Buffer {
  return Buffer.concat([dir, SLASH, Buffer.from(name, 'utf8')]);
}

/** Create `desc` at `path` (which must not exist). Modes 0755 / 0644. */
export function createTree(path: Buffer, desc: TreeDesc): void {
  switch (desc.type) {
    case 'regular':
      writeFileSync(path, Buffer.from(desc.contents_base64, 'base64'));
      chmodSync(path, desc.executable ? 0o755 : 0o644);
      break;
    case 'symlink':
      symlinkSync(Buffer.from(desc.target, 'utf8'), path);
      break;
    case 'directory':
      mkdirSync(path);
      chmodSync(path, 0o755);
      for (const [name, d] of Object.entries(desc.entries)) createTree(child(path, name), d);
      break;
  }
}

/** Check the tree at `path` against `desc` exactly (no extra entries). Returns a list of differences. */
export function diffTree(path: Buffer, desc: TreeDesc, rel = '.'): string[] {
  const st = lstatSync(path);
  const out: string[] = [];
  switch (desc.type) {
    case 'regular':
      if (!st.isFile()) return [`${rel}: not a regular file`];
      if (((st.mode & 0o100) !== 0) !== desc.executable) out.push(`${rel}: executable bit differs`);
      if (!readFileSync(path).equals(Buffer.from(desc.contents_base64, 'base64'))) out.push(`${rel}: contents differ`);
      return out;
    case 'symlink':
      if (!st.isSymbolicLink()) return [`${rel}: not a symlink`];
      if (readlinkSync(path, { encoding: 'buffer' }).toString('utf8') !== desc.target) out.push(`${rel}: target differs`);
      return out;
    case 'directory': {
      if (!st.isDirectory()) return [`${rel}: not a directory`];
      const have = readdirSync(path, { encoding: 'buffer' }).map((b) => b.toString('utf8')).sort();
      const want = Object.keys(desc.entries).sort();
      if (JSON.stringify(have) !== JSON.stringify(want)) out.push(`${rel}: entries ${JSON.stringify(have)} != ${JSON.stringify(want)}`);
      for (const name of want) {
        if (have.includes(name)) out.push(...diffTree(child(path, name), desc.entries[name] as TreeDesc, `${rel}/${name}`));
      }
      return out;
    }
  }
}

/** A fresh temporary directory and a function removing it. */
export function tempDir(prefix = 'tsnix-store-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The entries of a store directory, sorted, without `.links` (the hard links
 * of `store optimise`, made with every store: see optimise.test.ts); [] when
 * there is no such directory.
 */
export function storeDirEntries(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((n) => n !== '.links').sort();
}

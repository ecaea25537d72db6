// Moving paths between stores: nix-store --export/--import streams, file://
// binary caches (nix copy), ed25519 signatures and path-info JSON, against
// ../shared/vectors/export-and-binary-cache.json (CppNix 2.8).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatNarInfo, parseCacheUrl, parseNarInfo } from '../../src/store/binary-cache.js';
import { StoreDatabase } from '../../src/store/database.js';
import { loadSqlite } from '../../src/store/database.js';
import { parseHash } from '../../src/store/hash.js';
import {
  fingerprintPath,
  formatPublicKey,
  formatSecretKey,
  generateKeyPair,
  parsePublicKey,
  parsePublicKeys,
  parseSecretKey,
  signDetached,
  signPath,
  SigningError,
  verifyDetached,
} from '../../src/store/signing.js';
import { readVectorFile } from './vectors.js';
import { storeDirEntries } from './tree-helpers.js';

const BIN = resolve(__dirname, '../../bin/tsnix');

interface LayoutEntry {
  path: string;
  type: 'file' | 'directory';
  size?: number;
  sha256_base16?: string;
  text?: string;
  base64?: string;
}

interface Vectors {
  paths: { expression: string; built_path: string; tofile_expression: string; tofile_path: string };
  exports: {
    description: string;
    paths: string[];
    export_base64: string;
    export_size: number;
    decoded: {
      nar_base64: string;
      nar_sha256_nix32: string;
      path: string;
      references: string[];
      deriver: string;
    }[];
  }[];
  key_pair: { secret_key_file_contents: string; public_key_file_contents: string };
  caches: { id: string; cache_dir: string; command: string; layout: LayoutEntry[]; narinfo_parsed: Record<string, Record<string, string[]>> }[];
  fingerprints: { narinfo: string; store_path: string; fingerprint: string; sig: string; verified_with_public_key: boolean }[];
  local_store_signing: {
    path_infos_after_signing: Record<string, { path_info: Record<string, unknown> }>;
    verify_stderr: string;
    verify_exit_code: number;
  };
}

const V = readVectorFile('export-and-binary-cache.json') as Vectors;
const BUILT = V.paths.built_path;
const TOFILE = V.paths.tofile_path;
const ALL_PATHS = [...new Set(V.exports.flatMap((e) => e.decoded.map((d) => d.path)))];

const tmpDirs: string[] = [];
afterAll(() => {
  for (const d of tmpDirs) {
    spawnSync('chmod', ['-R', 'u+w', d]);
    rmSync(d, { recursive: true, force: true });
  }
});

function tempDir(prefix = 'tsnix-xc-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tmpDirs.push(d);
  return d;
}

/** A fresh store with logical /nix/store under a temporary TSNIX_ROOT, and a working directory. */
function newRoot(): { root: string; work: string; env: Record<string, string> } {
  const root = tempDir('tsnix-xc-root-');
  const work = join(root, 'work');
  mkdirSync(work);
  mkdirSync(join(root, 'config'));
  mkdirSync(join(root, 'tmp'));
  return {
    root,
    work,
    env: {
      TSNIX_ROOT: join(root, 'r'),
      TSNIX_STORE_DIR: '',
      TSNIX_STATE_DIR: '',
      NIX_CONFIG: '',
      NIX_PATH: '',
      XDG_CONFIG_HOME: join(root, 'config'),
      TMPDIR: join(root, 'tmp'),
    },
  };
}

type Root = ReturnType<typeof newRoot>;

function tsnix(r: Root, args: string[], input?: Buffer) {
  const res = spawnSync(BIN, args, { cwd: r.work, env: { ...process.env, ...r.env }, input, maxBuffer: 1 << 26 });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr.toString('utf8') };
}

function pathInfo(r: Root, paths: string[], extra: string[] = []): Record<string, unknown>[] {
  const res = tsnix(r, ['store', 'path-info', '--json', ...extra, ...paths]);
  expect(res.stderr).toBe('');
  expect(res.code).toBe(0);
  return JSON.parse(res.stdout.toString('utf8')) as Record<string, unknown>[];
}

function withoutTime(o: Record<string, unknown>): Record<string, unknown> {
  const { registrationTime, ...rest } = o;
  expect(typeof registrationTime).toBe('number');
  return rest;
}

/** Every file and folder under `dir` (folders with a trailing '/'). */
function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      const rel = relative(dir, p);
      if (statSync(p).isDirectory()) {
        out.push(rel + '/');
        walk(p);
      } else out.push(rel);
    }
  };
  walk(dir);
  return out.sort();
}

function storeEntries(r: Root): string[] {
  return storeDirEntries(join(r.env.TSNIX_ROOT as string, 'nix', 'store'));
}

const exportBytes = (i: number): Buffer => Buffer.from((V.exports[i] as Vectors['exports'][number]).export_base64, 'base64');

const canNamespace =
  existsSync('/nix') &&
  (spawnSync('unshare', ['--mount', 'true']).status === 0 ||
    spawnSync('unshare', ['--user', '--map-root-user', '--mount', 'true']).status === 0);
const haveXz = spawnSync('xz', ['--version']).status === 0;

// ---------------------------------------------------------------------------

describe('ed25519 keys, fingerprints and signatures', () => {
  const secret = parseSecretKey(V.key_pair.secret_key_file_contents);
  const keys = parsePublicKeys([V.key_pair.public_key_file_contents]);

  it('reads and writes the recorded key pair', () => {
    expect(secret.name).toBe('tsnix-test-key-1');
    expect(formatSecretKey(secret)).toBe(V.key_pair.secret_key_file_contents);
    expect(formatPublicKey(parsePublicKey(V.key_pair.public_key_file_contents))).toBe(V.key_pair.public_key_file_contents);
    // the public half stored in the secret key is the public key
    expect(formatPublicKey({ name: secret.name, key: secret.pub })).toBe(V.key_pair.public_key_file_contents);
  });

  for (const f of V.fingerprints) {
    it(`fingerprint and signature of ${f.narinfo}`, () => {
      const layout = (V.caches.find((c) => c.id === 'uncompressed-signed') as Vectors['caches'][number]).layout;
      const text = (layout.find((l) => l.path === f.narinfo) as LayoutEntry).text as string;
      const ni = parseNarInfo(text, f.narinfo, '/nix/store');
      const info = { path: ni.storePath, narHash: ni.narHash, narSize: ni.narSize, references: ni.references };
      expect(fingerprintPath(info)).toBe(f.fingerprint);
      expect(signDetached(secret, f.fingerprint)).toBe(f.sig);
      expect(signPath(info, secret)).toBe(f.sig);
      expect(ni.sigs).toEqual([f.sig]);
      expect(verifyDetached(f.fingerprint, f.sig, keys)).toBe(f.verified_with_public_key);
      // one byte off anywhere: not valid
      expect(verifyDetached(f.fingerprint + ' ', f.sig, keys)).toBe(false);
      const raw = Buffer.from(f.sig.slice(f.sig.indexOf(':') + 1), 'base64');
      raw[10] = (raw[10] as number) ^ 1;
      expect(verifyDetached(f.fingerprint, `${secret.name}:${raw.toString('base64')}`, keys)).toBe(false);
      // a key of another name is not trusted
      expect(verifyDetached(f.fingerprint, f.sig.replace('tsnix-test-key-1', 'other'), keys)).toBe(false);
    });
  }

  it('generates key pairs that sign and verify', () => {
    const pair = generateKeyPair('k2');
    const again = parseSecretKey(formatSecretKey(pair.secret));
    const sig = signDetached(again, 'hello');
    expect(verifyDetached('hello', sig, parsePublicKeys([formatPublicKey(pair.public)]))).toBe(true);
    expect(verifyDetached('hello', sig, keys)).toBe(false);
  });

  it('rejects corrupt keys and signatures clearly', () => {
    expect(() => parseSecretKey('nocolon')).toThrow(new SigningError('secret key is corrupt'));
    expect(() => parseSecretKey(V.key_pair.public_key_file_contents)).toThrow(new SigningError('secret key is not valid'));
    expect(() => parsePublicKey(V.key_pair.secret_key_file_contents)).toThrow(new SigningError('public key is not valid'));
    expect(() => verifyDetached('x', 'tsnix-test-key-1:AAAA', keys)).toThrow(new SigningError('signature is not valid'));
    expect(() =>
      fingerprintPath({ path: '/nix/store/x', narHash: parseHash('sha1:' + '0'.repeat(32)), narSize: 1, references: [] }),
    ).toThrow(/is not SHA-256/);
  });
});

describe('narinfo files', () => {
  for (const c of V.caches) {
    it(`parses and prints back every narinfo of ${c.id}`, () => {
      for (const l of c.layout.filter((x) => x.path.endsWith('.narinfo'))) {
        const text = l.text as string;
        const ni = parseNarInfo(text, l.path, '/nix/store');
        expect(formatNarInfo(ni, '/nix/store')).toBe(text);
        const parsed = c.narinfo_parsed[l.path] as Record<string, string[]>;
        expect(ni.storePath).toBe(parsed.StorePath?.[0]);
        expect(ni.narHash.toString()).toBe(parsed.NarHash?.[0]);
        expect(String(ni.narSize)).toBe(parsed.NarSize?.[0]);
        expect(ni.references.map((p) => p.slice('/nix/store/'.length)).join(' ')).toBe(parsed.References?.[0]);
        expect(ni.deriver?.slice('/nix/store/'.length)).toBe(parsed.Deriver?.[0]);
        expect(ni.ca).toBe(parsed.CA?.[0]);
        expect(ni.sigs).toEqual(parsed.Sig ?? []);
      }
    });
  }

  it('rejects corrupt narinfos and bad store URLs', () => {
    expect(() => parseNarInfo('URL: nar/x.nar\n', 'x.narinfo', '/nix/store')).toThrow(/NAR info file 'x.narinfo' is corrupt/);
    expect(() => parseCacheUrl('s3://bucket')).toThrow(/don't know how to open Nix store 's3:\/\/bucket'/);
    expect(() => parseCacheUrl('file:///c?compression=bzip2')).toThrow(/unknown compression method 'bzip2'/);
    expect(parseCacheUrl('file:///c/?compression=none&secret-key=/k')).toMatchObject({
      dir: '/c',
      compression: 'none',
      secretKeyFiles: ['/k'],
    });
    expect(parseCacheUrl('file:///c').compression).toBe('xz');
  });
});

describe('the store database', () => {
  it('migrates a version 1 database: paths with a deriver become ultimate', () => {
    const dir = tempDir();
    const file = join(dir, 'db.sqlite');
    const Database = loadSqlite();
    const db = new Database(file);
    db.exec(`
      create table valid_paths (id integer primary key autoincrement not null, path text unique not null,
        nar_hash text not null, nar_size integer not null, registration_time integer not null,
        deriver text, ca text, sigs text);
      create table refs (referrer integer not null, reference integer not null, primary key (referrer, reference)) without rowid;
      create table derivation_outputs (drv integer not null, output text not null, path text not null, primary key (drv, output)) without rowid;
      insert into valid_paths (path, nar_hash, nar_size, registration_time, deriver, ca, sigs)
        values ('/s/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-built', 'sha256:${'0'.repeat(64)}', 1, 5, '/s/x.drv', null, null),
               ('/s/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-added', 'sha256:${'0'.repeat(64)}', 1, 5, null, 'text:sha256:${'0'.repeat(52)}', 'k:AA== a:BB==');
      pragma user_version = 1;`);
    db.close();
    const sdb = new StoreDatabase(file);
    expect(sdb.queryPathInfo('/s/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-built')).toMatchObject({ ultimate: true, sigs: [] });
    expect(sdb.queryPathInfo('/s/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-added')).toMatchObject({ ultimate: false, sigs: ['a:BB==', 'k:AA=='] });
    expect(sdb.addSignatures('/s/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-added', ['b:CC==', 'k:AA=='])).toBe(true);
    expect(sdb.queryPathInfo('/s/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-added')?.sigs).toEqual(['a:BB==', 'b:CC==', 'k:AA==']);
    expect(sdb.addSignatures('/s/cccccccccccccccccccccccccccccccc-none', ['b:CC=='])).toBe(false);
    sdb.close();
    const check = new Database(file, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(2);
    check.close();
  });
});

// ---------------------------------------------------------------------------
// Through the command line, in stores whose logical directory is /nix/store

describe('import of the recorded export streams', () => {
  it('imports the two-path stream with the recorded metadata', () => {
    const r = newRoot();
    const res = tsnix(r, ['store', 'import'], exportBytes(2));
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const decoded = (V.exports[2] as Vectors['exports'][number]).decoded;
    expect(res.stdout.toString()).toBe(decoded.map((d) => d.path + '\n').join(''));
    const infos = pathInfo(r, decoded.map((d) => d.path));
    for (const d of decoded) {
      const info = withoutTime(infos.find((i) => i.path === d.path) as Record<string, unknown>);
      const narHash = parseHash(`sha256:${d.nar_sha256_nix32}`);
      // imported paths: no content address, not ultimate, no signatures (as CppNix)
      const want: Record<string, unknown> = {
        path: d.path,
        narHash: narHash.toSRI(),
        narSize: Buffer.from(d.nar_base64, 'base64').length,
        references: d.references,
      };
      if (d.deriver) want.deriver = d.deriver;
      expect(info).toEqual(want);
      // the files are the NAR's
      const dump = tsnix(r, ['store', 'dump', d.path]);
      expect(dump.stdout.equals(Buffer.from(d.nar_base64, 'base64'))).toBe(true);
    }
    // importing again changes nothing and prints the paths again
    const again = tsnix(r, ['store', 'import'], exportBytes(1));
    expect(again.code).toBe(0);
    expect(again.stdout.toString()).toBe(`${BUILT}\n`);
    // and the stream exported back is byte-identical
    const exp = tsnix(r, ['store', 'export', ...(V.exports[2] as Vectors['exports'][number]).paths]);
    expect(exp.stdout.equals(exportBytes(2))).toBe(true);
  });

  it('imports the toFile stream once its reference is valid, and refuses it before', () => {
    const r = newRoot();
    const res = tsnix(r, ['store', 'import'], exportBytes(0));
    expect(res.code).toBe(1);
    expect(res.stderr).toBe("error: path '/nix/store/vkb99djazdcnramd2r0csk1d17yz43mx-cache-demo-dep.txt' is not valid\n");
    expect(storeEntries(r)).toEqual([]); // nothing left behind
    const exp = tsnix(r, ['store', 'export', TOFILE]);
    expect(exp.code).toBe(1);
    expect(exp.stderr).toBe(`error: path '${TOFILE}' is not valid\n`);
  });

  it('takes a path listed twice in one stream from its first NAR, the one it registers', () => {
    const r = newRoot();
    const u64 = (n: number): Buffer => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(BigInt(n));
      return b;
    };
    const str = (s: string): Buffer => Buffer.concat([u64(s.length), Buffer.from(s), Buffer.alloc((8 - (s.length % 8)) % 8)]);
    const nar = (contents: string): Buffer => Buffer.concat(['nix-archive-1', '(', 'type', 'regular', 'contents', contents, ')'].map(str));
    const p = '/nix/store/yd3hii9hi6vb6s87gllap4kvfpp1vikh-dep.txt';
    // (each item: 1, the NAR, the magic, path, no references, no deriver, no signature; then 0)
    const item = (contents: string): Buffer => Buffer.concat([u64(1), nar(contents), u64(0x4558494e), str(p), u64(0), str(''), u64(0)]);
    const res = tsnix(r, ['store', 'import'], Buffer.concat([item('first\n'), item('second\n'), u64(0)]));
    expect([res.code, res.stderr]).toEqual([0, '']);
    expect(tsnix(r, ['store', 'dump', p]).stdout.equals(nar('first\n'))).toBe(true);
    const verify = tsnix(r, ['store', 'verify', '--check-contents']);
    expect([verify.code, verify.stderr]).toEqual([0, 'reading the Nix store...\nchecking path existence...\nchecking link hashes...\nchecking store hashes...\n']);
  });

  it('leaves nothing registered when a stream is truncated or corrupt', () => {
    const r = newRoot();
    const whole = exportBytes(2);
    for (const cut of [8, 100, 200, whole.length - 8]) {
      const res = tsnix(r, ['store', 'import'], whole.subarray(0, cut));
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(/^error: (unexpected end-of-file in the import stream|unexpected end of NAR)/);
      expect(res.stderr).not.toMatch(/    at /);
      expect(storeEntries(r)).toEqual([]);
    }
    const bad = Buffer.from(whole);
    bad.writeUInt32LE(0x4558494f, 8 + 128); // the first path's magic
    const res = tsnix(r, ['store', 'import'], bad);
    expect(res.stderr).toBe('error: Nix archive cannot be imported; wrong format\n');
    const notExport = tsnix(r, ['store', 'import'], Buffer.from('hello world, not an export'));
    expect(notExport.stderr).toBe("error: input doesn't look like something created by 'nix-store --export'\n");
    expect(storeEntries(r)).toEqual([]);
    expect(tsnix(r, ['store', 'path-info', BUILT]).stderr).toBe(`error: path '${BUILT}' is not valid\n`);
  });
});

describe.runIf(canNamespace)('paths built and written like CppNix', () => {
  let r: Root;
  beforeAll(() => {
    r = newRoot();
    writeFileSync(join(r.work, 'expr.nix'), V.paths.expression);
    writeFileSync(join(r.work, 'secret.key'), V.key_pair.secret_key_file_contents);
    writeFileSync(join(r.work, 'public.key'), V.key_pair.public_key_file_contents);
    const b = tsnix(r, ['build', '--no-out-link', 'expr.nix']);
    expect(b.stdout.toString()).toBe(`${BUILT}\n`);
    // the toFile paths, written by instantiating a derivation that uses them
    const i = tsnix(r, ['instantiate', '-E', `derivation { name = "w"; system = "x"; builder = "/bin/sh"; f = ${V.paths.tofile_expression}; }`]);
    expect(i.code).toBe(0);
  });

  for (const [n, e] of V.exports.entries()) {
    it(`exports byte-identically: ${e.description}`, () => {
      const res = tsnix(r, ['store', 'export', ...e.paths]);
      expect(res.stderr).toBe('');
      expect(res.stdout.length).toBe(e.export_size);
      expect(res.stdout.equals(exportBytes(n))).toBe(true);
    });
  }

  for (const c of V.caches) {
    it(`copies to a file:// cache with every file as recorded: ${c.id}`, () => {
      if (c.id.startsWith('xz') && !haveXz) return;
      // the recorded command, with tsnix in place of nix
      const url = /--to "([^"]*)"/.exec(c.command)?.[1]?.replaceAll('$PWD', r.work) as string;
      const res = tsnix(r, ['copy', '--to', url, BUILT, TOFILE]);
      expect(res.code).toBe(0);
      const dir = join(r.work, c.cache_dir);
      expect(res.stderr.split('\n')[0]).toBe('copying 4 paths...');
      expect(res.stderr).toContain(`copying path '${BUILT}' to 'file://${dir}'...\n`);
      expect(listTree(dir)).toEqual(c.layout.map((l) => l.path).sort());
      for (const l of c.layout) {
        if (l.type !== 'file') continue;
        const data = readFileSync(join(dir, l.path));
        if (l.text !== undefined) expect(data.toString('utf8')).toBe(l.text);
        if (l.base64 !== undefined) expect(data.toString('base64')).toBe(l.base64);
        expect(data.length).toBe(l.size);
        expect(createHash('sha256').update(data).digest('hex')).toBe(l.sha256_base16);
      }
      // copying again writes nothing
      const again = tsnix(r, ['copy', '--to', url, BUILT]);
      expect(again.code).toBe(0);
      expect(again.stderr).toBe('');
    });
  }

  it('signs local paths as CppNix does, and path-info shows it', () => {
    const before = pathInfo(r, [BUILT, TOFILE]).map(withoutTime);
    const after = V.local_store_signing.path_infos_after_signing;
    const strip = (o: Record<string, unknown>): Record<string, unknown> => {
      const { signatures, ...rest } = o;
      void signatures;
      return rest;
    };
    expect(before).toEqual([strip((after[TOFILE] as { path_info: Record<string, unknown> }).path_info), strip((after[BUILT] as { path_info: Record<string, unknown> }).path_info)]);
    const res = tsnix(r, ['store', 'sign', '--key-file', 'secret.key', BUILT, TOFILE]);
    expect(res.code).toBe(0);
    expect(res.stderr).toBe('added 2 signatures\n');
    expect(tsnix(r, ['store', 'sign', '--key-file', 'secret.key', BUILT]).stderr).toBe('added 0 signatures\n');
    for (const p of [BUILT, TOFILE]) {
      expect(pathInfo(r, [p]).map(withoutTime)).toEqual([(after[p] as { path_info: Record<string, unknown> }).path_info]);
    }
  });

  it('verifies signatures with the public key', () => {
    tsnix(r, ['store', 'sign', '--key-file', 'secret.key', BUILT, TOFILE]);
    const key = V.key_pair.public_key_file_contents;
    const ok = tsnix(r, ['store', 'verify-sigs', '--sigs-needed', '1', '--trusted-public-keys', key, BUILT, TOFILE]);
    expect(ok.code).toBe(V.local_store_signing.verify_exit_code);
    expect(ok.stderr).toBe(V.local_store_signing.verify_stderr);
    // the dependency is unsigned and not content-addressed: untrusted with --sigs-needed 1, fine as built here without
    const dep = '/nix/store/p36bxqb54cpg4dw3igrnjdfnzl8x75f7-cache-demo-dep';
    const bad = tsnix(r, ['store', 'verify-sigs', '--sigs-needed', '1', '--trusted-public-keys', key, dep]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(`checking '${dep}'...\npath '${dep}' is untrusted\n`);
    expect(tsnix(r, ['store', 'verify-sigs', dep]).code).toBe(0);
    // an unknown key does not count
    const other = formatPublicKey(generateKeyPair('tsnix-test-key-1').public);
    expect(tsnix(r, ['store', 'verify-sigs', '--sigs-needed', '1', '--trusted-public-keys', other, BUILT]).code).toBe(2);
  });

  it('path-info -r, --sigs and plain output', () => {
    const res = tsnix(r, ['store', 'path-info', '-r', BUILT]);
    expect(res.stdout.toString()).toBe(`/nix/store/p36bxqb54cpg4dw3igrnjdfnzl8x75f7-cache-demo-dep\n${BUILT}\n`);
    const sigs = tsnix(r, ['store', 'path-info', '--sigs', TOFILE]).stdout.toString();
    expect(sigs).toMatch(new RegExp(`^${TOFILE}\tca:text:sha256:0kjhx4vwwf0hrhvg4kfg87j7048gs9c269nzzd06hyfh9zzkqkd6( tsnix-test-key-1:\\S+)?\n$`));
  });
});

describe('copying from a file:// cache into the local store', () => {
  /** A cache of the vectors' layout written from the recorded bytes. */
  function recordedCache(id: string): string {
    const c = V.caches.find((x) => x.id === id) as Vectors['caches'][number];
    const dir = join(tempDir('tsnix-xc-cache-'), c.cache_dir);
    for (const l of c.layout) {
      const p = join(dir, l.path);
      if (l.type === 'directory') mkdirSync(p, { recursive: true });
      else {
        mkdirSync(join(p, '..'), { recursive: true });
        writeFileSync(p, l.text !== undefined ? Buffer.from(l.text, 'utf8') : Buffer.from(l.base64 as string, 'base64'));
      }
    }
    return dir;
  }

  function expectNarinfoMetadata(r: Root, id: string): void {
    const c = V.caches.find((x) => x.id === id) as Vectors['caches'][number];
    const infos = pathInfo(r, ALL_PATHS).map(withoutTime);
    for (const info of infos) {
      const p = info.path as string;
      const parsed = c.narinfo_parsed[`${p.slice(11, 43)}.narinfo`] as Record<string, string[]>;
      const want: Record<string, unknown> = {
        path: p,
        narHash: parseHash(parsed.NarHash?.[0] as string).toSRI(),
        narSize: Number(parsed.NarSize?.[0]),
        references: (parsed.References?.[0] as string).split(' ').filter(Boolean).map((b) => `/nix/store/${b}`),
      };
      if (parsed.CA) want.ca = parsed.CA[0];
      if (parsed.Deriver) want.deriver = `/nix/store/${parsed.Deriver[0]}`;
      if (parsed.Sig) want.signatures = parsed.Sig;
      expect(info).toEqual(want);
    }
  }

  it('substitutes a signed closure, checking the signatures', () => {
    const dir = recordedCache('uncompressed-signed');
    const r = newRoot();
    const res = tsnix(r, ['copy', '--from', `file://${dir}`, '--trusted-public-keys', V.key_pair.public_key_file_contents, BUILT, TOFILE]);
    expect(res.code).toBe(0);
    expect(res.stderr.split('\n')[0]).toBe('copying 4 paths...');
    expectNarinfoMetadata(r, 'uncompressed-signed');
    const exp = tsnix(r, ['store', 'export', BUILT]);
    expect(exp.stdout.equals(exportBytes(1))).toBe(true);
    const v = tsnix(r, ['store', 'verify-sigs', '--sigs-needed', '1', '--trusted-public-keys', V.key_pair.public_key_file_contents, ...ALL_PATHS]);
    expect(v.code).toBe(0);
  });

  it('refuses unsigned paths when keys are trusted, unless --no-check-sigs', () => {
    const dir = recordedCache('uncompressed-unsigned');
    const r = newRoot();
    const key = V.key_pair.public_key_file_contents;
    const res = tsnix(r, ['copy', '--from', `file://${dir}`, '--trusted-public-keys', key, BUILT]);
    expect(res.code).toBe(1);
    expect(res.stderr).toBe(
      "error: cannot add path '/nix/store/p36bxqb54cpg4dw3igrnjdfnzl8x75f7-cache-demo-dep' because it lacks a valid signature\n",
    );
    expect(storeEntries(r)).toEqual([]);
    // content-addressed paths need no signature
    const ca = tsnix(r, ['copy', '--from', `file://${dir}`, '--trusted-public-keys', key, TOFILE]);
    expect(ca.code).toBe(0);
    const ok = tsnix(r, ['copy', '--from', `file://${dir}`, '--trusted-public-keys', key, '--no-check-sigs', BUILT]);
    expect(ok.code).toBe(0);
    expectNarinfoMetadata(r, 'uncompressed-unsigned');
  });

  it.runIf(haveXz)('reads xz-compressed NARs', () => {
    const dir = recordedCache('xz-unsigned');
    const r = newRoot();
    expect(tsnix(r, ['copy', '--from', `file://${dir}`, BUILT, TOFILE]).code).toBe(0);
    expectNarinfoMetadata(r, 'xz-unsigned');
  });

  it('checks every NAR against its NarHash and leaves nothing on failure', () => {
    const dir = recordedCache('uncompressed-unsigned');
    // the dependency's NAR with one byte changed ("dependency" -> "dependencz")
    const nar = join(dir, 'nar/13w19wwvpfqyfq1fixzqjphj7dil4vlv9gada02f9kpl04qnmkw4.nar');
    const data = readFileSync(nar);
    const at = data.indexOf('dependency');
    data[at + 9] = 'z'.charCodeAt(0);
    writeFileSync(nar, data);
    const r = newRoot();
    const res = tsnix(r, ['copy', '--from', `file://${dir}`, BUILT]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(
      "error: hash mismatch importing path '/nix/store/p36bxqb54cpg4dw3igrnjdfnzl8x75f7-cache-demo-dep';\n  specified: sha256:13w19wwvpfqyfq1fixzqjphj7dil4vlv9gada02f9kpl04qnmkw4\n  got:       sha256:",
    );
    expect(storeEntries(r)).toEqual([]);
    // the toFile path's content address is checked too
    const res2 = tsnix(r, ['copy', '--from', `file://${dir}`, TOFILE]);
    expect(res2.code).toBe(1);
    expect(res2.stderr).toContain("\nerror: hash mismatch importing path '/nix/store/vkb99djazdcnramd2r0csk1d17yz43mx-cache-demo-dep.txt';");
    expect(storeEntries(r)).toEqual([]);
  });

  it('names what is missing', () => {
    const r = newRoot();
    const empty = tempDir();
    expect(tsnix(r, ['copy', '--from', `file://${empty}`, BUILT]).stderr).toBe(
      `error: 'file://${empty}' is not a binary cache (it has no 'nix-cache-info')\n`,
    );
    const dir = recordedCache('uncompressed-unsigned');
    rmSync(join(dir, 'p36bxqb54cpg4dw3igrnjdfnzl8x75f7.narinfo'));
    expect(tsnix(r, ['copy', '--from', `file://${dir}`, BUILT]).stderr).toBe(
      `error: path '/nix/store/p36bxqb54cpg4dw3igrnjdfnzl8x75f7-cache-demo-dep' is not valid in binary cache 'file://${dir}'\n`,
    );
    expect(tsnix(r, ['copy', BUILT]).stderr).toMatch(/exactly one of '--to' and '--from' is required/);
  });
});

describe('keys from the command line', () => {
  it('generate-binary-cache-key writes a pair that signs and verifies', () => {
    const r = newRoot();
    const res = tsnix(r, ['store', 'generate-binary-cache-key', 'my-key-1', 's.key', 'p.key']);
    expect(res.code).toBe(0);
    const s = readFileSync(join(r.work, 's.key'), 'latin1');
    const p = readFileSync(join(r.work, 'p.key'), 'latin1');
    expect(s).toMatch(/^my-key-1:[A-Za-z0-9+/]{86}==$/);
    expect(p).toMatch(/^my-key-1:[A-Za-z0-9+/]{43}=$/);
    const sig = signDetached(parseSecretKey(s), 'fp');
    expect(verifyDetached('fp', sig, parsePublicKeys([p]))).toBe(true);
    expect(tsnix(r, ['store', 'generate-binary-cache-key', 'x']).stderr).toMatch(/three arguments expected/);
  });
});

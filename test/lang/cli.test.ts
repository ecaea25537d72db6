import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { toBytes } from '../../grammar/errors.js';
import { decodeSurrogateEscape } from '../../src/cli/argv.js';

const BIN = path.resolve(__dirname, '../../bin/tsnix');

export function tsnix(args: string[], opts: { input?: string; env?: Record<string, string>; cwd?: string } = {}) {
  const r = spawnSync(BIN, args, {
    input: opts.input,
    cwd: opts.cwd,
    env: { ...process.env, NIX_CONFIG: '', NIX_PATH: '', ...opts.env },
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('tsnix command line', () => {
  it('rejects an unknown subcommand with a usage error', () => {
    const r = tsnix(['frobnicate']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: unknown command 'frobnicate'");
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
  });

  it('rejects an unknown flag with a usage error', () => {
    const r = tsnix(['instantiate', '--frob']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("unrecognised flag '--frob'");
  });

  it('starts without reading NODE_EXTRA_CA_CERTS unless it may download, and keeps it in its environment', () => {
    // (node warns at start when it cannot read the file: the warning shows whether node read it)
    const env = { NODE_EXTRA_CA_CERTS: '/nonexistent/ca.crt' };
    const r = tsnix(['instantiate', '--eval', '-E', 'builtins.getEnv "NODE_EXTRA_CA_CERTS"'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('"/nonexistent/ca.crt"\n');
    expect(r.stderr).toBe('');
    expect(tsnix(['instantiate', '--eval', '-E', 'builtins.getEnv "TSNIX_NODE_EXTRA_CA_CERTS"'], { env }).stdout).toBe('""\n');
    // builds (builtin:fetchurl over https) start with it
    expect(tsnix(['build', '--help'], { env }).stderr).toContain('/nonexistent/ca.crt');
  });

  it('starts through a symbolic link to the launcher, and from its own directory', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnix-link-'));
    try {
      fs.symlinkSync(BIN, path.join(dir, 'tsnix'));
      const r = spawnSync(path.join(dir, 'tsnix'), ['instantiate', '--eval', '-E', '1 + 1'], { encoding: 'utf8' });
      expect(r.stdout).toBe('2\n');
      const r2 = spawnSync('sh', ['tsnix', '--version'], { cwd: path.dirname(BIN), encoding: 'utf8' });
      expect(r2.stdout).toMatch(/^tsnix \(Nix\) /);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("gives V8 no heap limit of its own (V8's default, at most 4 GiB, stopped big evaluations)", () => {
    // the launcher's v8flags= line is what every tsnix process (and its snapshot) runs with
    const line = /^v8flags="([^"]*)"$/m.exec(fs.readFileSync(BIN, 'utf8'));
    expect(line).not.toBeNull();
    const flags = line![1]!.split(' ').filter(Boolean);
    const r = spawnSync(process.execPath, [...flags, '-p', "require('v8').getHeapStatistics().heap_size_limit"], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(Number(r.stdout)).toBeGreaterThanOrEqual(2 ** 40);
  });

  it('takes its arguments as bytes, as CppNix does, also where they are not UTF-8', () => {
    // (node decodes argv as UTF-8 and would turn \377 into U+FFFD's three bytes)
    const sh = (script: string) => {
      const r = spawnSync('sh', ['-c', script, 'sh', BIN], { env: { ...process.env, NIX_CONFIG: '', NIX_PATH: '' } });
      return { code: r.status, stdout: r.stdout, stderr: r.stderr.toString('latin1') };
    };
    // (\342\202 is cut short: node makes one U+FFFD of its two bytes)
    const r = sh(`"$1" instantiate --eval -E "$(printf '"\\377x\\303\\251\\355\\240\\200\\342\\202"')"`);
    expect(r.stderr).toBe('');
    expect([...r.stdout]).toEqual([0x22, 0xff, 0x78, 0xc3, 0xa9, 0xed, 0xa0, 0x80, 0xe2, 0x82, 0x22, 0x0a]);
    const a = sh(`a=$(printf 'a\\376'); "$1" instantiate --eval -E '{ y }: { "\${y}b" = y; }' --argstr y "$a" -A "\${a}b"`);
    expect([...a.stdout]).toEqual([0x22, 0x61, 0xfe, 0x22, 0x0a]);
    // a syntax error shows the byte itself in its code frame
    const e = sh(`"$1" instantiate --eval -E "$(printf 'x \\377')"`);
    expect(e.code).toBe(1);
    expect(e.stderr).toContain('1| x \xff\n');
  });

  it('reads, lists, hashes and imports files whose names are not UTF-8, also named on the command line', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnix-bytes-'));
    try {
      const name = (s: string) => Buffer.concat([Buffer.from(dir + '/'), Buffer.from(s, 'latin1')]);
      fs.writeFileSync(name('a\xff.nix'), '"hi"');
      fs.symlinkSync(Buffer.from('a\xff.nix', 'latin1'), name('l\xfe'));
      const l = '(./. + "/l\xfe")';
      fs.writeFileSync(
        name('t.nix'),
        Buffer.from(
          `let d = builtins.readDir ./.; in [ (builtins.attrNames d) (builtins.attrValues d) (builtins.readFile ${l}) ` +
            `(builtins.hashFile "sha256" ${l}) (builtins.readFileType ${l}) (builtins.pathExists ${l}) (import (./. + "/a\xff.nix")) ]`,
          'latin1',
        ),
      );
      const r = spawnSync('sh', ['-c', `"$1" instantiate --eval --strict "$2/t.nix" && "$1" instantiate --eval "$(printf '%s/a\\377.nix' "$2")"`, 'sh', BIN, dir], {
        env: { ...process.env, NIX_CONFIG: '', NIX_PATH: '' },
      });
      expect(r.stderr.toString()).toBe('');
      expect(r.stdout.toString('latin1')).toBe(
        '[ [ "a\xff.nix" "l\xfe" "t.nix" ] [ "regular" "symlink" "regular" ] "\\"hi\\"" ' +
          '"b49177e05868b7af8e82a644c1ce20e521af46497adeaffe861d294d9b4bb75e" "symlink" true "hi" ]\n"hi"\n',
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('escapes the bytes of an argument that are not UTF-8 so that toBytes gives them back', () => {
    const cases = [
      [0xff],
      [0x61, 0xc3, 0xa9, 0x62], // é
      [0xf0, 0x9f, 0x92, 0x80], // U+1F480, whose low surrogate is U+DC80
      [0x61, 0xf0, 0x9f, 0x92, 0x80, 0x80], // the same and a stray continuation byte
      [0xc0, 0x80], // overlong NUL
      [0xed, 0xa0, 0x80], // an encoded surrogate
      [0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
      [0xe2, 0x82], // cut short
      [0xe2, 0x82, 0xac, 0xe2], // € and a cut-short one
    ];
    let seed = 7;
    for (let k = 0; k < 200; k++) {
      cases.push(
        Array.from({ length: 1 + (k % 13) }, () => {
          seed = (seed * 1103515245 + 12345) % 2147483648;
          return seed >> 23;
        }),
      );
    }
    for (const c of cases) {
      const b = Buffer.from(c);
      const s = decodeSurrogateEscape(b);
      expect(toBytes(s)).toBe(b.toString('latin1'));
      // valid UTF-8 decodes as node decodes it
      if (Buffer.from(b.toString('utf8'), 'utf8').equals(b)) expect(s).toBe(b.toString('utf8'));
    }
    expect(decodeSurrogateEscape(Buffer.from([0x61, 0xff]))).toBe('a\udcff');
  });

  it('-A selects along an attribute path as CppNix does (output and errors as nix-instantiate 2.8 prints them)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnix-attrpath-'));
    try {
      fs.writeFileSync(path.join(dir, 'g.nix'), '{ x = [ { y = 1; } 2 ]; "a.b" = { c = 3; }; s = { "0" = "zero"; }; f = 1; d = 2; xx2 = 3; }');
      const sel = (p: string) => {
        const r = tsnix(['instantiate', '--eval', '--strict', 'g.nix', '-A', p], { cwd: dir });
        return r.code === 0 ? r.stdout.trim() : r.stderr.trim();
      };
      expect(sel('x.0.y')).toBe('1');
      expect(sel('"a.b".c')).toBe('3');
      // a trailing dot is ignored, an empty step in the middle is not
      expect(sel('x.')).toBe('[ { y = 1; } 2 ]');
      expect(sel('.')).toBe("error: empty attribute name in selection path '.'");
      expect(sel('x.y')).toBe("error: the expression selected by the selection path 'x.y' should be a set but is a list");
      // a number always indexes a list
      expect(sel('s.0')).toBe("error: the expression selected by the selection path 's.0' should be a list but is a set");
      expect(sel('x.2')).toBe("error: list index 2 in selection path 'x.2' is out of range");
      expect(sel('a"b')).toBe("error: missing closing quote in selection path 'a\"b'");
      // suggestions: at most 5 names within 2 edits, nearest first
      expect(sel('ff')).toBe("error: attribute 'ff' in selection path 'ff' not found\n       Did you mean one of f, d, s or x?");
      expect(sel('xy')).toBe("error: attribute 'xy' in selection path 'xy' not found\n       Did you mean one of x, d, f, s or xx2?");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--eval --json gives a path as the store path it would be copied to, without writing it (as nix-instantiate)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnix-jsonpath-'));
    try {
      fs.writeFileSync(path.join(dir, 'g.nix'), '{ x = 1; }\n');
      const env = { TSNIX_STORE_DIR: path.join(dir, 'store'), TSNIX_STATE_DIR: path.join(dir, 'state') };
      const json = tsnix(['instantiate', '--eval', '--json', '-E', '[ ./g.nix { p = ./g.nix; } ]'], { cwd: dir, env });
      const interpolated = tsnix(['instantiate', '--eval', '-E', '"${./g.nix}"'], { cwd: dir, env });
      expect(json.code).toBe(0);
      const p = JSON.parse(interpolated.stdout) as string;
      expect(p).toMatch(new RegExp(`^${path.join(dir, 'store')}/[0-9a-z]{32}-g\\.nix$`));
      expect(json.stdout).toBe(`[${JSON.stringify(p)},{"p":${JSON.stringify(p)}}]`);
      expect(fs.existsSync(p)).toBe(false);
      // (`tsnix eval --json`, as `nix eval --json`, leaves paths as they are)
      expect(tsnix(['eval', '--json', '-E', './g.nix'], { cwd: dir, env }).stdout).toBe(`${JSON.stringify(path.join(dir, 'g.nix'))}\n`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('instantiate --find-file looks names up in the search path (-I, NIX_PATH), as nix-instantiate does', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnix-findfile-'));
    try {
      fs.mkdirSync(path.join(dir, 'lib'));
      fs.writeFileSync(path.join(dir, 'lib', 'a.nix'), '1');
      const r = tsnix(['instantiate', '-I', `foo=${dir}`, '--find-file', 'foo', 'foo/lib/a.nix'], { env: { NIX_PATH: `bar=${dir}/lib` } });
      expect(r).toEqual({ code: 0, stdout: `${dir}\n${dir}/lib/a.nix\n`, stderr: '' });
      expect(tsnix(['instantiate', '--find-file', 'bar/a.nix'], { env: { NIX_PATH: `bar=${dir}/lib` } }).stdout).toBe(`${dir}/lib/a.nix\n`);
      expect(tsnix(['instantiate', '--find-file', 'foo/nope'], { env: { NIX_PATH: `foo=${dir}` } })).toEqual({
        code: 1,
        stdout: '',
        stderr: "error: file 'foo/nope' was not found in the Nix search path (add it using $NIX_PATH or -I)\n",
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prints its version', () => {
    const r = tsnix(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^tsnix \(Nix\) \d+\.\d+\.\d+\n$/);
  });

  it('shows a setting', () => {
    const r = tsnix(['show-config', 'max-call-depth']);
    expect(r.stdout).toBe('250000\n');
    const r2 = tsnix(['show-config', 'max-call-depth'], { env: { NIX_CONFIG: 'max-call-depth = 77' } });
    expect(r2.stdout).toBe('77\n');
    const r3 = tsnix(['show-config', '--option', 'max-call-depth', '5', 'max-call-depth'], { env: { NIX_CONFIG: 'max-call-depth = 77' } });
    expect(r3.stdout).toBe('5\n');
  });

  it('warns about unknown settings', () => {
    const r = tsnix(['show-config', 'system'], { env: { NIX_CONFIG: 'frobnicity = 3' } });
    expect(r.stderr).toContain("warning: unknown setting 'frobnicity'");
    expect(r.stdout).toMatch(/^[a-z0-9_]+-[a-z]+\n$/);
  });
});

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

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

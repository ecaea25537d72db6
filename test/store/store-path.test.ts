import { describe, expect, it } from 'vitest';
import { parseContentAddress, renderContentAddress, makeContentAddressedPath } from '../../src/store/content-address.js';
import {
  computeDrvPath,
  derivationReaderFromTexts,
  fillInOutputPaths,
  printDerivation,
  type Derivation,
  type DerivationOutput,
  type DrvHashModulo,
} from '../../src/store/derivation.js';
import { hashString, parseHash, sha256 } from '../../src/store/hash.js';
import { narFromContents } from '../../src/store/nar.js';
import {
  BadStorePathError,
  BadStorePathNameError,
  checkStorePathName,
  computeTextPath,
  downstreamPlaceholder,
  isStorePath,
  makeFixedOutputPath,
  makeOutputPath,
  makeSourcePath,
  makeStorePath,
  makeTextPath,
  outputPathName,
  parseStorePath,
  placeholder,
  splitStorePath,
  storePathNameProblem,
} from '../../src/store/store-path.js';
import { bytes, loadVectors } from './vectors.js';

interface ToFileVector {
  description: string;
  expression: string;
  path: string;
  contents: string;
  contents_sha256_base16: string;
  references: string[];
  path_info: { path: string; narHash: string; narSize: number; references: string[]; ca: string };
  files_in_cwd?: Record<string, string>;
}

const tofile = loadVectors<ToFileVector>('tofile.json');

/** The source path of a file with these contents (path literal / `${./file}`), as CppNix adds it. */
function sourcePathOfFile(name: string, contents: string, storeDir?: string): string {
  return makeSourcePath(name, sha256(narFromContents(contents)), [], storeDir);
}

describe('tofile.json', () => {
  it('has 11 vectors', () => expect(tofile.vectors.length).toBe(11));
  for (const v of tofile.vectors) {
    it(v.description, () => {
      const contents = bytes(v.contents);
      const name = v.path.slice('/nix/store/'.length + 33);
      const h = sha256(contents);
      expect(h.toBase16()).toBe(v.contents_sha256_base16);
      expect(makeTextPath(name, h, v.references)).toBe(v.path);
      expect(computeTextPath(name, contents, [...v.references].reverse())).toBe(v.path);
      // path-info
      const nar = narFromContents(contents);
      expect(nar.length).toBe(v.path_info.narSize);
      expect(sha256(nar).toSRI()).toBe(v.path_info.narHash);
      expect(renderContentAddress({ method: 'text', hash: h })).toBe(v.path_info.ca);
      expect(makeContentAddressedPath(name, parseContentAddress(v.path_info.ca), v.references)).toBe(v.path);
      expect(v.path_info.references).toEqual(v.references);
      // the ${./data.txt} reference is a source path
      for (const [file, data] of Object.entries(v.files_in_cwd ?? {})) {
        const src = sourcePathOfFile(file, data);
        expect(v.references).toContain(src);
      }
    });
  }
  it('the source path of data.txt', () => {
    expect(sourcePathOfFile('data.txt', 'some data\n')).toBe('/nix/store/9vk30yyabqnaigh0kqhl9ck55sqg6lz0-data.txt');
  });
});

// ---------------------------------------------------------------------------
// store-dir.json: the same computations in /tsnix-test/store, with the
// derivation records built by hand as the evaluator would build them.

interface StoreDirVector {
  id: string;
  expression: string;
  result: string | Record<string, string>;
}
const storeDir = loadVectors<StoreDirVector>('store-dir.json');
const SD = '/tsnix-test/store';

interface DrvSpec {
  name: string;
  system: string;
  builder?: string;
  args?: string[];
  env?: Record<string, string>;
  outputs?: string[];
  fixed?: { hashAlgo: string; hash: string };
  inputDrvs?: Record<string, string[]>;
  inputSrcs?: string[];
}

/** A minimal `derivation` without an evaluator: the record, output paths, .drv path. */
class MiniInstantiator {
  readonly texts = new Map<string, string>();
  readonly memo = new Map<string, DrvHashModulo>();
  constructor(readonly storeDir: string) {}

  derivation(spec: DrvSpec): { drvPath: string; drv: Derivation; out: Record<string, string> } {
    const builder = spec.builder ?? '/bin/sh';
    const env = new Map<string, string>([
      ['name', spec.name],
      ['system', spec.system],
      ['builder', builder],
      ...Object.entries(spec.env ?? {}),
    ]);
    if (spec.outputs) env.set('outputs', spec.outputs.join(' '));
    const outputs = new Map<string, DerivationOutput>();
    for (const o of spec.outputs ?? ['out']) {
      outputs.set(o, spec.fixed ? { path: '', ...spec.fixed } : { path: '' });
      env.set(o, '');
    }
    const drv: Derivation = {
      name: spec.name,
      outputs,
      inputDrvs: new Map(Object.entries(spec.inputDrvs ?? {}).map(([k, v]) => [k, new Set(v)])),
      inputSrcs: new Set(spec.inputSrcs ?? []),
      platform: spec.system,
      builder,
      args: spec.args ?? [],
      env,
    };
    const filled = fillInOutputPaths(
      drv,
      { readDerivation: derivationReaderFromTexts(this.texts), memo: this.memo },
      this.storeDir,
    );
    const drvPath = computeDrvPath(filled, this.storeDir);
    this.texts.set(drvPath, printDerivation(filled));
    const out: Record<string, string> = {};
    for (const [o, x] of filled.outputs) out[o] = x.path;
    return { drvPath, drv: filled, out };
  }
}

describe('store-dir.json (/tsnix-test/store)', () => {
  const results = new Map(storeDir.vectors.map((v) => [v.id, v.result]));
  const fodSpec: DrvSpec = {
    name: 'fixed.txt',
    system: 'x86_64-linux',
    args: ['-c', 'echo -n hello > $out'],
    env: {
      outputHashMode: 'flat',
      outputHashAlgo: 'sha256',
      outputHash: '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824',
    },
    fixed: { hashAlgo: 'sha256', hash: '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824' },
  };

  it('has 12 vectors', () => expect(storeDir.vectors.length).toBe(12));

  it('storeDir', () => expect(results.get('storeDir')).toBe(SD));

  it('toFile', () => {
    expect(computeTextPath('greeting.txt', 'hello\n', [], SD)).toBe(results.get('tofile'));
  });

  it('toFile with a reference', () => {
    const dep = computeTextPath('dep.txt', 'I am a dependency\n', [], SD);
    expect(computeTextPath('uses-dep.txt', `see ${dep}\n`, [dep], SD)).toBe(results.get('tofile-ref'));
  });

  it('path interpolation and builtins.path', () => {
    expect(sourcePathOfFile('data.txt', 'some data\n', SD)).toBe(results.get('path-interpolation'));
    expect(sourcePathOfFile('renamed.txt', 'some data\n', SD)).toBe(results.get('builtins-path'));
  });

  const drvCases: [string, (m: MiniInstantiator) => ReturnType<MiniInstantiator['derivation']>][] = [
    ['minimal', (m) => m.derivation({ name: 'minimal', system: 'x86_64-linux' })],
    [
      'myName-aarch64',
      (m) =>
        m.derivation({
          name: 'myName',
          system: 'aarch64-linux',
          args: ['-c', 'echo RUNNING >&2 && echo $message > $out'],
          env: { message: 'goodbye' },
        }),
    ],
    ['multiple-outputs', (m) => m.derivation({ name: 'multi', system: 'x86_64-linux', outputs: ['out', 'dev', 'lib'] })],
    [
      'depends-on-output',
      (m) => {
        const dep = m.derivation({ name: 'dep', system: 'x86_64-linux', args: ['-c', 'echo dep > $out'] });
        return m.derivation({
          name: 'depends-on-output',
          system: 'x86_64-linux',
          args: ['-c', `cat ${dep.out.out} > $out`],
          env: { depPath: dep.out.out as string },
          inputDrvs: { [dep.drvPath]: ['out'] },
        });
      },
    ],
    ['fod-flat-sha256', (m) => m.derivation(fodSpec)],
    [
      'depends-on-fod',
      (m) => {
        const fod = m.derivation(fodSpec);
        return m.derivation({
          name: 'uses-fixed',
          system: 'x86_64-linux',
          env: { src: fod.out.out as string },
          inputDrvs: { [fod.drvPath]: ['out'] },
        });
      },
    ],
    [
      'env-paths',
      (m) => {
        const src = sourcePathOfFile('data.txt', 'some data\n', SD);
        return m.derivation({ name: 'env-paths', system: 'x86_64-linux', env: { file: src }, inputSrcs: [src] });
      },
    ],
  ];
  for (const [id, make] of drvCases) {
    it(`derivation ${id}`, () => {
      const r = make(new MiniInstantiator(SD));
      const expected = results.get(id) as Record<string, string>;
      expect(r.drvPath).toBe(expected.drvPath);
      for (const o of Object.keys(r.out)) expect(r.out[o]).toBe(expected[o]);
      expect(Object.keys(expected).length).toBe(Object.keys(r.out).length + 1);
    });
  }

  it('the same hand-built derivations give the /nix/store vectors', () => {
    const m = new MiniInstantiator('/nix/store');
    expect(drvCases[0]![1](m).drvPath).toBe('/nix/store/v1x7ylvsiz9y106ac08pngsy82l2igb7-minimal.drv');
    const myName = drvCases[1]![1](m);
    expect(myName.drvPath).toBe('/nix/store/xh3q9dd1r0nk87kyj2pqf9kscvqsip80-myName.drv');
    expect(myName.out.out).toBe('/nix/store/l56ckxgxa4x50n3v4bamvdrrbqjyl7zm-myName');
  });
});

// ---------------------------------------------------------------------------

describe('store path formulas', () => {
  it('makeStorePath takes a Hash or sha256 hex', () => {
    const h = sha256('x');
    expect(makeStorePath('text', h, 'x')).toBe(makeStorePath('text', h.toBase16(), 'x'));
    expect(makeStorePath('text', h, 'x', '/other')).toMatch(/^\/other\/[0-9a-z]{32}-x$/);
  });

  it('fixed-output paths', () => {
    // nar.json hello.txt, flat sha256 and recursive sha1
    const flat = parseHash('sha256:c98c24b677eff44860afea6f493bbaec5bb1c4cbb209c6fc2bbb47f66ff2ad31');
    expect(makeFixedOutputPath('hello.txt', 'flat', flat)).toBe('/nix/store/22lrzcnq9ch2f3sz8d2idrm9gn72vcy2-hello.txt');
    expect(() => makeFixedOutputPath('x', 'flat', flat, '/nix/store', ['/nix/store/00000000000000000000000000000000-y'])).toThrow(
      /cannot have references/,
    );
  });

  it('output paths and names', () => {
    expect(outputPathName('multi', 'out')).toBe('multi');
    expect(outputPathName('multi', 'dev')).toBe('multi-dev');
    expect(makeOutputPath('dev', sha256('x'), 'multi')).toMatch(/-multi-dev$/);
  });

  it('placeholders', () => {
    expect(placeholder('out')).toBe('/1rz4g4znpzjwh1xymhjpm42vipw92pr73vdgl6xs1hycac8kf2n9');
    expect(placeholder('out')).toBe('/' + hashString('sha256', 'nix-output:out').toNix32());
    expect(downstreamPlaceholder('/nix/store/8nfwvdw6dmdv52z8lf6hrgm0bnbxljx9-ca-floating.drv', 'out')).toBe(
      '/1a7ik5j61zjjd70j44czpdp6jb49ncmlalgjda5sb14x9j6sq59s',
    );
  });
});

describe('store path names and parsing (Nix 2.8 messages)', () => {
  const H = '00000000000000000000000000000000';
  const bad: [string, string][] = [
    [`${H}-a b`, `store path '${H}-a b' contains illegal character ' '`],
    [`${H}-`, `store path '${H}-' has an empty name`],
    [`${H}-${'a'.repeat(212)}`, `store path '${H}-${'a'.repeat(212)}' has a name longer than 211 characters`],
    [`${H}-\xc3\xa9`, `store path '${H}-\xc3\xa9' contains illegal character '\xc3'`],
    ['abc', "'abc' is too short to be a valid store path"],
    [H, `'${H}' is too short to be a valid store path`],
    ['0000000000000000000000000000000e-foo', "store path '0000000000000000000000000000000e-foo' contains illegal base-32 character 'e'"],
    ['000000000000000000000000000000EE-foo', "store path '000000000000000000000000000000EE-foo' contains illegal base-32 character 'E'"],
    ['0000000000000000000000000000000e-f o', "store path '0000000000000000000000000000000e-f o' contains illegal base-32 character 'e'"],
  ];
  for (const [base, message] of bad) {
    it(JSON.stringify(base.slice(0, 50)), () => {
      expect(() => parseStorePath(`/nix/store/${base}`)).toThrow(BadStorePathError);
      expect(() => parseStorePath(`/nix/store/${base}`)).toThrow(message);
      expect(isStorePath(`/nix/store/${base}`)).toBe(false);
    });
  }

  it('makeStorePath validates the name like toFile in 2.8', () => {
    expect(() => computeTextPath('a b', 'x')).toThrow(
      "store path 'dm85kbl5cy82j2dzvy1874s14y3salv3-a b' contains illegal character ' '",
    );
    expect(() => computeTextPath('', 'x')).toThrow("store path '9r1mh2rc3s3i33vpdw86kqqyvy9i1y4w-' has an empty name");
    // names 2.8 accepts
    expect(computeTextPath('.foo', 'x')).toBe('/nix/store/q144f75swlv405pb69crqqkdwiza7nlk-.foo');
    expect(computeTextPath('.', 'x')).toBe('/nix/store/1ka9gw6ddkrf0b8k65q7p46xbgb9wdr8-.');
    expect(computeTextPath('..', 'x')).toBe('/nix/store/hv29bhyiqgqrrvfwnrc9gg9g9cw83k4b-..');
    expect(computeTextPath('a'.repeat(211), 'x')).toBe(`/nix/store/yx91frwj9qkga75f8habg8q40arnqila-${'a'.repeat(211)}`);
  });

  it('parses good paths', () => {
    const p = parseStorePath('/nix/store/jjpci6gh197f9plsc1js7p77zp4li7gw-a+b-c.d_e?f=g');
    expect(p).toEqual({ hashPart: 'jjpci6gh197f9plsc1js7p77zp4li7gw', name: 'a+b-c.d_e?f=g', baseName: 'jjpci6gh197f9plsc1js7p77zp4li7gw-a+b-c.d_e?f=g' });
    // 2.8 does not check the '-' after the hash
    expect(parseStorePath(`/nix/store/${H}xfoo`).name).toBe('foo');
    expect(() => parseStorePath('/nix/store')).toThrow("path '/nix/store' is not in the Nix store");
    expect(() => parseStorePath(`/tmp/${H}-x`)).toThrow(`path '/tmp/${H}-x' is not in the Nix store`);
    expect(() => parseStorePath(`/nix/store/${H}-x/y`)).toThrow('is not in the Nix store');
    expect(parseStorePath(`/tsnix-test/store/${H}-x`, SD).name).toBe('x');
    expect(splitStorePath(`/nix/store/${H}-x/bin/y`)).toEqual({ storePath: `/nix/store/${H}-x`, subPath: '/bin/y' });
    expect(splitStorePath(`/nix/store/${H}-x`)).toEqual({ storePath: `/nix/store/${H}-x`, subPath: '' });
  });

  it('name checks with the current CppNix wording', () => {
    expect(() => checkStorePathName('~jiggle~')).toThrow("name '~jiggle~' contains illegal character '~'");
    expect(() => checkStorePathName('')).toThrow(BadStorePathNameError);
    expect(storePathNameProblem('a'.repeat(212))).toEqual({ reason: 'too-long' });
    expect(storePathNameProblem('.')).toBeUndefined();
    expect(storePathNameProblem('.', { rejectDotNames: true })).toEqual({ reason: 'dot', component: '.' });
    expect(storePathNameProblem('..-x', { rejectDotNames: true })).toEqual({ reason: 'dot', component: '..' });
    expect(storePathNameProblem('.foo', { rejectDotNames: true })).toBeUndefined();
    expect(storePathNameProblem('...', { rejectDotNames: true })).toBeUndefined();
  });
});

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  computeDrvPath,
  derivationReaderFromTexts,
  derivationToJson,
  DerivationParseError,
  drvNameFromPath,
  fillInOutputPaths,
  hashDerivationModulo,
  isFixedOutput,
  outputKind,
  parseDerivation,
  printDerivation,
  showDerivationJson,
  type Derivation,
  type DrvHashModulo,
} from '../../src/store/derivation.js';
import { sha256 } from '../../src/store/hash.js';
import { hashPathSync } from '../../src/store/nar.js';
import { computeTextPath, downstreamPlaceholder, makeSourcePath, placeholder } from '../../src/store/store-path.js';
import { bytes, loadVectors, unicode } from './vectors.js';
import { tempDir } from './tree-helpers.js';

interface DrvVector {
  id: string;
  description: string;
  expression: string;
  drvPath: string;
  instantiate_stdout: string;
  outputs: Record<string, string>;
  drv_text: string;
  show_derivation: Record<string, unknown>;
  closure_input_drv_texts: Record<string, string>;
  closure_sources: string[];
  files_next_to_expression?: Record<string, string>;
}

const drvVectors = loadVectors<DrvVector>('derivations.json').vectors;

/** Every .drv text of every vector, as byte strings, by path. */
const allDrvTexts = new Map<string, string>();
for (const v of drvVectors) {
  allDrvTexts.set(v.drvPath, bytes(v.drv_text));
  for (const [p, t] of Object.entries(v.closure_input_drv_texts)) allDrvTexts.set(p, bytes(t));
}

/** What the evaluator hands over before paths are known: output paths and their env entries "". */
function blank(drv: Derivation): Derivation {
  const outputs = new Map<string, { path: string; hashAlgo?: string; hash?: string }>();
  const env = new Map(drv.env);
  for (const [name, o] of drv.outputs) {
    const kind = outputKind(o);
    outputs.set(name, { ...o, path: '' });
    // a floating CA output's env entry holds the placeholder, which the evaluator sets
    if (kind === 'inputAddressed' || kind === 'fixed') env.set(name, '');
  }
  return { ...drv, outputs, env };
}

describe('derivations.json', () => {
  it('has 42 vectors', () => expect(drvVectors.length).toBe(42));

  for (const v of drvVectors) {
    describe(v.id, () => {
      const text = bytes(v.drv_text);
      const name = drvNameFromPath(v.drvPath);

      it('parses and prints back byte-identical', () => {
        const drv = parseDerivation(text, name);
        expect(drv.name).toBe(name);
        expect(printDerivation(drv)).toBe(text);
        expect(text.endsWith(')')).toBe(true);
      });

      it('drvPath from the ATerm and its references', () => {
        const drv = parseDerivation(text, name);
        expect(computeDrvPath(drv)).toBe(v.drvPath);
        // nix-instantiate prints <drv>!<output> when the first output is not `out`
        expect(v.instantiate_stdout.split('\n')[0]!.split('!')[0]).toBe(v.drvPath);
      });

      it('output paths via hashDerivationModulo', () => {
        const drv = parseDerivation(text, name);
        const memo = new Map<string, DrvHashModulo>();
        const ctx = { readDerivation: derivationReaderFromTexts(mapBytes(v.closure_input_drv_texts)), memo };
        const filled = fillInOutputPaths(blank(drv), ctx);
        expect(printDerivation(filled)).toBe(text);
        for (const [o, p] of Object.entries(v.outputs)) {
          const out = filled.outputs.get(o);
          expect(out).toBeDefined();
          if (out!.path === '') {
            // floating content-addressed: the evaluator's outPath is the downstream placeholder
            expect(v.id).toBe('ca-floating');
            expect(downstreamPlaceholder(v.drvPath, o)).toBe(p);
            expect(filled.env.get(o)).toBe(placeholder(o));
          } else {
            expect(out!.path).toBe(p);
            expect(filled.env.get(o)).toBe(p);
          }
        }
        expect(filled.outputs.size).toBe(Object.keys(v.outputs).length);
        // every input in the closure was hashed once, into the memo
        for (const p of drv.inputDrvs.keys()) expect(memo.has(p)).toBe(true);
      });

      it('show-derivation JSON (Nix 2.8 format)', () => {
        const drv = parseDerivation(text, name);
        const json = showDerivationJson([[v.drvPath, drv]]);
        const parsed = JSON.parse(unicode(json)) as unknown;
        expect(parsed).toEqual(v.show_derivation);
        // key order too
        expect(JSON.stringify(parsed)).toBe(JSON.stringify(v.show_derivation));
        expect(json.endsWith('}\n')).toBe(true);
        expect(derivationToJson(drv)).toEqual(v.show_derivation[v.drvPath]);
      });

      if (Object.keys(v.closure_input_drv_texts).length > 0) {
        it('closure .drv files round-trip and hash to their paths', () => {
          for (const [p, t] of Object.entries(v.closure_input_drv_texts)) {
            const d = parseDerivation(bytes(t), drvNameFromPath(p));
            expect(printDerivation(d)).toBe(bytes(t));
            expect(computeDrvPath(d)).toBe(p);
          }
        });
      }
    });
  }
});

function mapBytes(texts: Record<string, string>): Map<string, string> {
  return new Map(Object.entries(texts).map(([k, t]) => [k, bytes(t)]));
}

describe('derivations.json sources', () => {
  let tmp: { dir: string; cleanup: () => void };
  beforeAll(() => (tmp = tempDir()));
  afterAll(() => tmp.cleanup());

  it('local files and directories give the recorded source paths', () => {
    let checked = 0;
    for (const v of drvVectors) {
      if (!v.files_next_to_expression) continue;
      const root = join(tmp.dir, v.id);
      for (const [rel, contents] of Object.entries(v.files_next_to_expression)) {
        mkdirSync(dirname(join(root, rel)), { recursive: true });
        writeFileSync(join(root, rel), contents, { mode: 0o644 });
      }
      for (const src of v.closure_sources) {
        const srcName = src.slice(src.indexOf('-') + 1);
        const top = new Set(Object.keys(v.files_next_to_expression).map((r) => r.split('/')[0]));
        if (!top.has(srcName)) continue;
        expect(makeSourcePath(srcName, hashPathSync(join(root, srcName)).hash)).toBe(src);
        checked++;
      }
    }
    expect(checked).toBe(7);
  });

  it('toFile inputs (tofile-input) are text paths with references', () => {
    const script = computeTextPath('builder.sh', 'echo hello > $out\n');
    expect(script).toBe('/nix/store/5nw3di7akby6ah73vh1qa8ig75zm49h5-builder.sh');
    expect(computeTextPath('conf.txt', `script is ${script}\n`, [script])).toBe(
      '/nix/store/33c43kn2njknl60wspi7w5lzh7spkhgd-conf.txt',
    );
  });
});

describe('builds.json derivations', () => {
  interface BuildVector {
    id: string;
    drvPath: string;
    drv_text: string;
    outputs: Record<string, { path: string; deriver: string }>;
  }
  const builds = loadVectors<BuildVector>('builds.json').vectors;
  const texts = new Map(builds.map((b) => [b.drvPath, bytes(b.drv_text)]));
  for (const b of builds) {
    it(`${b.id}: round trip, drvPath and output paths`, () => {
      const drv = parseDerivation(bytes(b.drv_text), drvNameFromPath(b.drvPath));
      expect(printDerivation(drv)).toBe(bytes(b.drv_text));
      expect(computeDrvPath(drv)).toBe(b.drvPath);
      const filled = fillInOutputPaths(blank(drv), { readDerivation: derivationReaderFromTexts(texts) });
      for (const [o, info] of Object.entries(b.outputs)) {
        expect(filled.outputs.get(o)?.path).toBe(info.path);
        expect(info.deriver).toBe(b.drvPath);
      }
    });
  }
});

describe('hashDerivationModulo', () => {
  it('fixed-output derivations hash to fixed:out:<algo>:<hash>:<path>', () => {
    const v = drvVectors.find((x) => x.id === 'fod-recursive-sha1')!;
    const drv = parseDerivation(bytes(v.drv_text), drvNameFromPath(v.drvPath));
    expect(isFixedOutput(drv)).toBe(true);
    const res = hashDerivationModulo(drv, { readDerivation: () => { throw new Error('no inputs'); } });
    expect(res.kind).toBe('fixed');
    const o = drv.outputs.get('out')!;
    expect(res.kind === 'fixed' && res.outputHashes.get('out')!.toBase16()).toBe(
      sha256(`fixed:out:${o.hashAlgo}:${o.hash}:${o.path}`).toBase16(),
    );
  });

  it('fixed-output inputs that differ only in how they are built give the same output path', () => {
    const a = drvVectors.find((x) => x.id === 'depends-on-fod-a')!;
    const b = drvVectors.find((x) => x.id === 'depends-on-fod-b')!;
    expect(a.drvPath).not.toBe(b.drvPath);
    const ctx = { readDerivation: derivationReaderFromTexts(allDrvTexts) };
    const ha = hashDerivationModulo(parseDerivation(bytes(a.drv_text), 'uses-fixed'), ctx, true);
    const hb = hashDerivationModulo(parseDerivation(bytes(b.drv_text), 'uses-fixed'), ctx, true);
    expect(ha.kind === 'regular' && hb.kind === 'regular' && ha.hash.equals(hb.hash)).toBe(true);
  });

  /**
   * Recorded with Nix 2.8 (`nix-instantiate --store /tmp/root`): `top` uses mid-a.out and
   * mid-b.dev, two derivations whose modulo hashes are equal because their fixed-output
   * inputs differ only in the builder. The modulo hash merges their output sets.
   */
  it('inputs with equal modulo hashes merge their outputs (Nix 2.8)', () => {
    const texts = new Map<string, string>([
      [
        '/nix/store/lb6387fcrph0bcwi87jpmjn4hyv1hs02-mid.drv',
        'Derive([("dev","/nix/store/bl0vdsj2f0gpg0aiid9a07kdrr8jh2cm-mid-dev","",""),("out","/nix/store/x7rdykgh52z2char1f4ydammickc97vp-mid","","")],[("/nix/store/cc4cpd5dzzfibr9q4pbags687ydpfv31-f.drv",["out"])],[],"x86_64-linux","/bin/sh",[],[("builder","/bin/sh"),("dev","/nix/store/bl0vdsj2f0gpg0aiid9a07kdrr8jh2cm-mid-dev"),("name","mid"),("out","/nix/store/x7rdykgh52z2char1f4ydammickc97vp-mid"),("outputs","out dev"),("src","/nix/store/4c6wsvi6cnq8h7ibg70pv68bi43y92xs-f"),("system","x86_64-linux")])',
      ],
      [
        '/nix/store/j54bg94r9gl3vr9xqvy4j6kvy4b6gdns-mid.drv',
        'Derive([("dev","/nix/store/bl0vdsj2f0gpg0aiid9a07kdrr8jh2cm-mid-dev","",""),("out","/nix/store/x7rdykgh52z2char1f4ydammickc97vp-mid","","")],[("/nix/store/0r2i7p662bbjzrr52qilfc9cclvsqqp7-f.drv",["out"])],[],"x86_64-linux","/bin/sh",[],[("builder","/bin/sh"),("dev","/nix/store/bl0vdsj2f0gpg0aiid9a07kdrr8jh2cm-mid-dev"),("name","mid"),("out","/nix/store/x7rdykgh52z2char1f4ydammickc97vp-mid"),("outputs","out dev"),("src","/nix/store/4c6wsvi6cnq8h7ibg70pv68bi43y92xs-f"),("system","x86_64-linux")])',
      ],
      [
        '/nix/store/0r2i7p662bbjzrr52qilfc9cclvsqqp7-f.drv',
        'Derive([("out","/nix/store/4c6wsvi6cnq8h7ibg70pv68bi43y92xs-f","sha256","2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")],[],[],"x86_64-linux","/bin/bash",[],[("builder","/bin/bash"),("name","f"),("out","/nix/store/4c6wsvi6cnq8h7ibg70pv68bi43y92xs-f"),("outputHash","2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"),("outputHashAlgo","sha256"),("outputHashMode","flat"),("system","x86_64-linux")])',
      ],
      [
        '/nix/store/cc4cpd5dzzfibr9q4pbags687ydpfv31-f.drv',
        'Derive([("out","/nix/store/4c6wsvi6cnq8h7ibg70pv68bi43y92xs-f","sha256","2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")],[],[],"x86_64-linux","/bin/sh",[],[("builder","/bin/sh"),("name","f"),("out","/nix/store/4c6wsvi6cnq8h7ibg70pv68bi43y92xs-f"),("outputHash","2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"),("outputHashAlgo","sha256"),("outputHashMode","flat"),("system","x86_64-linux")])',
      ],
    ]);
    const top =
      'Derive([("out","/nix/store/vz7v1m71cx7jryifjh1mp789x2ys3875-top","","")],[("/nix/store/j54bg94r9gl3vr9xqvy4j6kvy4b6gdns-mid.drv",["dev"]),("/nix/store/lb6387fcrph0bcwi87jpmjn4hyv1hs02-mid.drv",["out"])],[],"x86_64-linux","/bin/sh",[],[("builder","/bin/sh"),("name","top"),("out","/nix/store/vz7v1m71cx7jryifjh1mp789x2ys3875-top"),("system","x86_64-linux"),("x","/nix/store/x7rdykgh52z2char1f4ydammickc97vp-mid"),("y","/nix/store/bl0vdsj2f0gpg0aiid9a07kdrr8jh2cm-mid-dev")])';
    const ctx = { readDerivation: derivationReaderFromTexts(texts) };
    for (const [p, t] of texts) expect(computeDrvPath(parseDerivation(t, drvNameFromPath(p)))).toBe(p);
    const drv = parseDerivation(top, 'top');
    expect(computeDrvPath(drv)).toBe('/nix/store/sybkvhis58xk6ln01fcq2q7ij54i51nv-top.drv');
    const filled = fillInOutputPaths(blank(drv), ctx);
    expect(filled.outputs.get('out')?.path).toBe('/nix/store/vz7v1m71cx7jryifjh1mp789x2ys3875-top');
  });
});

describe('show-derivation byte-exact output (recorded with Nix 2.8)', () => {
  // env x = "\u0001\u001f\u007f\t\n\r\b\f/\\\"" and y = a lone 0xc3 byte (invalid UTF-8)
  const drvPath = '/nix/store/z34f1vgx6g0qlch5r798arfgnzqrdn8k-minimal2.drv';
  const aterm = Buffer.from(
    'RGVyaXZlKFsoIm91dCIsIi9uaXgvc3RvcmUvOTBwZzBtbTloaHg3NmJkdnl3OGQ1M2tjaGl2MWwzNTEtbWluaW1hbDIiLCIiLCIiKV0sW10sW10sIng4Nl82NC1saW51eCIsIi9iaW4vc2giLFtdLFsoImJ1aWxkZXIiLCIvYmluL3NoIiksKCJuYW1lIiwibWluaW1hbDIiKSwoIm91dCIsIi9uaXgvc3RvcmUvOTBwZzBtbTloaHg3NmJkdnl3OGQ1M2tjaGl2MWwzNTEtbWluaW1hbDIiKSwoInN5c3RlbSIsIng4Nl82NC1saW51eCIpLCgieCIsIgEff1x0XG5ccggML1xcXCIiKSwoInkiLCLDIildKQ==',
    'base64',
  ).toString('latin1');
  const json = Buffer.from(
    'ewogICIvbml4L3N0b3JlL3ozNGYxdmd4NmcwcWxjaDVyNzk4YXJmZ256cXJkbjhrLW1pbmltYWwyLmRydiI6IHsKICAgICJvdXRwdXRzIjogewogICAgICAib3V0IjogewogICAgICAgICJwYXRoIjogIi9uaXgvc3RvcmUvOTBwZzBtbTloaHg3NmJkdnl3OGQ1M2tjaGl2MWwzNTEtbWluaW1hbDIiCiAgICAgIH0KICAgIH0sCiAgICAiaW5wdXRTcmNzIjogW10sCiAgICAiaW5wdXREcnZzIjoge30sCiAgICAic3lzdGVtIjogIng4Nl82NC1saW51eCIsCiAgICAiYnVpbGRlciI6ICIvYmluL3NoIiwKICAgICJhcmdzIjogW10sCiAgICAiZW52IjogewogICAgICAiYnVpbGRlciI6ICIvYmluL3NoIiwKICAgICAgIm5hbWUiOiAibWluaW1hbDIiLAogICAgICAib3V0IjogIi9uaXgvc3RvcmUvOTBwZzBtbTloaHg3NmJkdnl3OGQ1M2tjaGl2MWwzNTEtbWluaW1hbDIiLAogICAgICAic3lzdGVtIjogIng4Nl82NC1saW51eCIsCiAgICAgICJ4IjogIlx1MDAwMVx1MDAxZn9cdFxuXHJcdTAwMDhcdTAwMGMvXFxcIiIsCiAgICAgICJ5IjogIsMiCiAgICB9CiAgfQp9Cg==',
    'base64',
  ).toString('latin1');

  it('prints the same bytes as nix show-derivation', () => {
    const drv = parseDerivation(aterm, 'minimal2');
    expect(printDerivation(drv)).toBe(aterm);
    expect(computeDrvPath(drv)).toBe(drvPath);
    expect(showDerivationJson([[drvPath, drv]])).toBe(json);
  });
});

describe('ATerm parse errors', () => {
  const good = bytes(drvVectors[0]!.drv_text);
  const cases: [string, string, number, RegExp][] = [
    ['empty', '', 0, /expected 'Derive\(' at byte 0, found end of input/],
    ['wrong prefix', 'Derivation([', 0, /expected 'Derive\('/],
    ['truncated', good.slice(0, 40), 40, /found end of input/],
    ['missing comma', good.replace('],[]', '][]'), good.indexOf('],[]') + 1, /expected ','/],
    ['unterminated string', 'Derive([("out', 13, /expected the end of a string/],
    ['relative input source', good.replace('],[],"x86', '],["rel/path"],"x86'), good.indexOf('],[],"x86') + 3, /expected an absolute path/],
    ['trailing garbage', good + '\n', good.length, /expected the end of the derivation/],
    ['relative output path', 'Derive([("out","x","","")],[],[],"s","b",[],[])', 15, /absolute path or ""/],
  ];
  for (const [what, text, offset, message] of cases) {
    it(what, () => {
      try {
        parseDerivation(text, 'minimal');
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(DerivationParseError);
        expect((e as DerivationParseError).offset).toBe(offset);
        expect((e as Error).message).toMatch(message);
        expect((e as Error).message).toContain("error parsing derivation 'minimal'");
        expect((e as Error).message).toContain(`at byte ${offset}`);
      }
    });
  }

  it('unescapes and re-escapes', () => {
    const t = 'Derive([("out","/nix/store/x","","")],[],[],"s","b",["a\\"b\\\\c\\nd\\re\\tf\\qg\x08"],[])';
    const d = parseDerivation(t, 'x');
    expect(d.args).toEqual(['a"b\\c\nd\re\tfqg\x08']);
    // \q is read as q, so printing gives the canonical form
    expect(printDerivation(d)).toBe(t.replace('\\q', 'q'));
  });
});


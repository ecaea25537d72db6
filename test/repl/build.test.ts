// `:b`, `:bl`, `:log` and the RecordingStore that lets the REPL evaluate
// without a writable store. Error wording checked against CppNix 2.8.

import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { printDerivation } from '../../src/store/derivation.js';
import { LocalStore } from '../../src/store/local-store.js';
import { RecordingStore } from '../../src/store/recording-store.js';
import { storeLocation } from '../../src/store/store-location.js';
import { session, tempEnv, type TempEnv, type Transcript } from './helpers.js';

const hasEngine = fs.existsSync(path.join(__dirname, '../../src/store/build/index.ts'));

let t: TempEnv;
let s: Transcript;
let store: string;

beforeEach(() => {
  t = tempEnv();
  s = session(t);
  store = t.env.TSNIX_STORE_DIR!;
});
afterEach(() => t.cleanup());

const DRV = 'derivation { name = "foo"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" "echo building foo; echo hello > $out" ]; }';

describe(':b with hand-made values', () => {
  it('reports what is wrong, as nix repl does', async () => {
    expect(await s.run(':b 1')).toBe("error: expression does not evaluate to a derivation, so I can't build it\n");
    expect(await s.run(':b { type = "derivation"; }')).toBe('error: derivation name missing\n');
    expect(await s.run(':b { type = "derivation"; name = "x"; }')).toBe("error: expression did not evaluate to a valid derivation (no 'drvPath' attribute)\n");
    expect(await s.run(':b { type = "derivation"; name = "x"; drvPath = "bar"; }')).toBe(
      "error: path 'bar' is not in the Nix store\n       at «string»:1:36:\n            1| { type = \"derivation\"; name = \"x\"; drvPath = \"bar\"; }\n             |                                    ^\n",
    );
    const missing = `${store}/00000000000000000000000000000000-x.drv`;
    expect(await s.run(`:b { type = "derivation"; name = "x"; drvPath = "${missing}"; }`)).toBe(`error: expression evaluated to invalid derivation '${missing}'\n`);
    const empty = await s.run(':b { type = "derivation"; name = "x"; drvPath = builtins.toFile "foo.drv" ""; }');
    expect(empty).toMatch(new RegExp(`^error: error parsing derivation '${store}/[0-9a-z]{32}-foo\\.drv': error: expected string 'Derive\\(\\['\\n$`));
  });

  it('checks the output paths of a .drv written with toFile', async () => {
    const wrong = `${store}/00000000000000000000000000000000-foo`;
    const aterm = `Derive([("out","${wrong}","","")],[],[],"x86_64-linux","/bin/sh",[],[("out","${wrong}")])`;
    const r = await s.run(`:b { type = "derivation"; name = "foo"; drvPath = builtins.toFile "foo.drv" ''${aterm}''; }`);
    expect(r).toMatch(new RegExp(`^error: derivation '${store}/[0-9a-z]{32}-foo\\.drv' has incorrect output '${wrong}', should be '${store}/[0-9a-z]{32}-foo'\\n$`));
  });

  it.runIf(hasEngine)('builds a .drv written with toFile when its outputs are right', async () => {
    // the right text, from a derivation computed in another session
    const other = session(t);
    const drvPath = JSON.parse(await other.run(`(${DRV}).drvPath`)) as string;
    const text = printDerivation(other.engine.session.recordingStore.readDerivation(drvPath));
    const r = await s.run(`:b { type = "derivation"; name = "foo"; drvPath = builtins.toFile "foo.drv" ''${text.replace(/\$/g, "''$")}''; }`);
    expect(r).toMatch(new RegExp(`This derivation produced the following outputs:\\n  out -> ${store}/[0-9a-z]{32}-foo\\n$`));
  });
});

describe(':b, :bl and :log', () => {
  it('evaluates without writing to the store, then writes and builds on :b', async () => {
    await s.run(`src = builtins.toFile "input.txt" "some input"`);
    await s.run(`d = derivation { name = "foo"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" "read -r l < \${src}; echo \\"$l\\" > $out" ]; }`);
    expect(await s.run('d')).toMatch(/^«derivation .*-foo\.drv»\n$/);
    expect(fs.existsSync(store)).toBe(false);
    if (!hasEngine) return;
    const r = await s.run(':b d');
    const m = new RegExp(`This derivation produced the following outputs:\\n  out -> (${store}/[0-9a-z]{32}-foo)\\n$`).exec(r);
    expect(m, r).not.toBeNull();
    expect(fs.readFileSync(m![1]!, 'utf8')).toBe('some input\n');
  });

  it.runIf(hasEngine)(':bl makes repl-result links, :log shows the build log', async () => {
    await s.run(`d = ${DRV}`);
    const r = await s.run(':bl d');
    const m = /  \.\/repl-result-out -> (\S+)\n$/.exec(r);
    expect(m, r).not.toBeNull();
    expect(fs.readlinkSync(path.join(t.dir, 'repl-result-out'))).toBe(m![1]);
    expect(fs.readFileSync(path.join(t.dir, 'repl-result-out'), 'utf8')).toBe('hello\n');
    const log = await s.run(':log d');
    expect(log).toMatch(/^got build log for '.*-foo\.drv' from 'local'\nbuilding foo\n$/);
  });

  it(':log reads the log file of the derivation', async () => {
    await s.run(`d = ${DRV}`);
    const drvPath = JSON.parse(await s.run('d.drvPath')) as string;
    expect(await s.run(':log d')).toBe(`error: build log of '${drvPath}' is not available\n`);
    const base = path.basename(drvPath);
    const file = path.join(t.env.TSNIX_STATE_DIR!, 'log', 'drvs', base.slice(0, 2), base.slice(2));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, 'line 1\nline 2\n');
    expect(await s.run(':log d')).toBe(`got build log for '${drvPath}' from 'local'\nline 1\nline 2\n`);
  });

  it.runIf(hasEngine)('a failing build is an error and the REPL goes on', async () => {
    await s.run('f = derivation { name = "fails"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" "echo oops; exit 3" ]; }');
    const r = await s.run(':b f');
    expect(r).toMatch(/error: .*fails\.drv.*/);
    expect(r).not.toMatch(/produced the following outputs/);
    expect(await s.run('1 + 1')).toBe('2\n');
  });
});

describe('RecordingStore', () => {
  it('records what it computes and materializes a closure, references first', () => {
    const loc = storeLocation(t.env);
    const rec = new RecordingStore(loc.storeDir);
    const file = path.join(t.dir, 'src.txt');
    fs.writeFileSync(file, 'source');
    const srcPath = rec.addPath(file, { name: 'src.txt', method: 'recursive' }).path;
    const textPath = rec.addText('t.txt', 'text', [srcPath]);
    const unrelated = rec.addText('unrelated', 'x', []);
    expect(rec.recordedPath(textPath)).toMatchObject({ kind: 'text', name: 't.txt', text: 'text', references: [srcPath] });
    expect(fs.existsSync(loc.storeDir)).toBe(false);

    const local = new LocalStore({ location: loc });
    try {
      const written = rec.materialize(local, [textPath]);
      expect(written).toEqual([srcPath, textPath]);
      expect(local.isValidPath(srcPath)).toBe(true);
      expect(local.isValidPath(textPath)).toBe(true);
      expect(local.isValidPath(unrelated)).toBe(false);
      expect(fs.readFileSync(textPath, 'utf8')).toBe('text');
      // already valid: nothing to write
      expect(rec.materialize(local, [textPath])).toEqual([]);
      expect(() => rec.materialize(local, [`${loc.storeDir}/00000000000000000000000000000000-x`])).toThrow(/is not valid/);
      // a source that changed since it was evaluated
      const p2 = rec.addPath(file, { name: 'other', method: 'recursive' }).path;
      fs.writeFileSync(file, 'changed');
      expect(() => rec.materialize(local, [p2])).toThrow(/changed since it was evaluated/);
    } finally {
      local.close();
    }
  });
});

// Entry point of the start-up snapshot (scripts/build.mjs bundles this file
// and runs `node --build-snapshot` on it).  While the snapshot is built, the
// modules are loaded and the parser is constructed (Chevrotain's grammar
// analysis is the biggest part of start-up); at run time only `main` runs.
//
// Two warm-ups run before the snapshot is taken.  V8 keeps no type feedback
// in a snapshot, but it does keep what the warm-ups leave behind: the
// functions they ran compiled to bytecode (not compiled again at each start),
// and the object layouts ("maps") of the evaluator's classes in their general
// form (which fields hold numbers or objects, which are reassigned).  Without
// that, the first set or thunk of a new kind met at run time changes a layout
// and throws away the optimised code built on the old one, to be compiled
// again (bench/instr.mjs: about 4% fewer instructions evaluating the package
// set; start-up no slower).
import fs from 'node:fs';
import v8 from 'node:v8';
import { Source } from '../../grammar/ast.js';
import { parse } from '../../grammar/parser.js';
import { printExpr } from '../../grammar/print.js';
import { forceDeep } from '../eval/ops.js';
import { EvalState } from '../eval/state.js';
import { instantiate } from './instantiate.js';
import { commandLineArgs } from './argv.js';
import { main } from './main.js';
import { setOutFd } from './util.js';

/** A small package set in the style of nixpkgs (fixpoint, overlays, callPackage, `//`, removeAttrs) and two derivations. */
const WARM_UP = `
let
  lib = rec {
    fix = f: let x = f x; in x;
    extends = o: f: self: let super = f self; in super // o self super;
    optional = c: x: if c then [ x ] else [ ];
    callWith = auto: fn: args: fn (builtins.intersectAttrs (builtins.functionArgs fn) auto // args);
  };
  mk = { pname, version, deps ? [ ], meta ? { }, ... }@attrs:
    let
      drv = builtins.removeAttrs attrs [ "meta" ] // {
        name = "\${pname}-\${version}"; system = "x86_64-linux"; builder = "/bin/sh";
        args = [ "-c" "echo \${pname} > $out" ] ++ lib.optional (deps != [ ]) "x";
        type = "derivation";
      };
    in
    assert (meta.broken or false) == false;
    drv // { inherit meta; override = f: mk (attrs // f attrs); };
  base = self: builtins.listToAttrs (builtins.genList (i: {
    name = "p\${toString i}";
    value = lib.callWith self mk {
      pname = "p\${toString i}";
      version = "1.\${toString (i - i / 3 * 3)}";
      deps = map (j: self."p\${toString j}") (builtins.filter (j: j < i) [ (i / 2) ]);
      meta.description = "package \${toString i}";
    };
  }) 60);
  pkgs = lib.fix (lib.extends (self: super: { extra = super.p3.override (o: { version = "2"; }); }) base);
  names = builtins.attrNames pkgs;
in {
  q = map (n: { name = pkgs.\${n}.name; d = pkgs.\${n}.meta.description or ""; t = pkgs.\${n}.type == "derivation"; }) names;
  s = builtins.concatStringsSep "," (builtins.sort builtins.lessThan names);
  n = builtins.foldl' (a: b: a + b) 0 (builtins.genList (x: x * 2) 100);
  f = 1.5 * 2;
  l = builtins.length (builtins.concatMap (x: [ x x ]) [ 1 2 3 ]) + builtins.elemAt [ 1 2 ] 0;
  # (paths computed only: the warm-up's store writes nothing)
  d = let
    src = derivation { name = "src.tar.gz"; system = "x86_64-linux"; builder = "/bin/sh"; outputHashMode = "flat";
      outputHashAlgo = "sha256"; outputHash = builtins.hashString "sha256" "x"; };
    p = derivation { name = "p"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" "echo \${src} > $out" ];
      outputs = [ "out" "dev" ]; buildInputs = [ src ]; flag = true; n = 3; };
  in [ p.drvPath p.dev.outPath ];
}`;

function warmUp(): void {
  const src = new Source(null, '«warm-up»', 'let f = { a, b ? 1 }: a + b; in [ (f { a = 1; }) "s${"x"}" ./p <q> (x: x.y or 2) ]');
  const e = parse(src, { basePath: '/' });
  printExpr(e);
  const state = new EvalState({ env: {} });
  forceDeep(state.evalString(WARM_UP, '«warm-up»', '/'));
}

/**
 * `tsnix instantiate --eval -E '1 + 1'`, its output sent to /dev/null: the
 * functions a start runs are compiled to bytecode in the snapshot instead of
 * at every start.  (Should it fail, say because of a setting in the builder's
 * environment, the snapshot only starts a little slower.)
 */
async function warmUpCommand(): Promise<void> {
  const fd = fs.openSync('/dev/null', 'w');
  setOutFd(fd);
  try {
    await instantiate(['--eval', '-E', '1 + 1']);
  } catch {
    // (see above)
  } finally {
    setOutFd(1);
    fs.closeSync(fd);
  }
}

if (v8.startupSnapshot?.isBuildingSnapshot()) {
  warmUp();
  void warmUpCommand();
  // argv[1] is the name the launcher passes in place of a script
  v8.startupSnapshot.setDeserializeMainFunction(() => {
    setOutFd(1); // (whatever became of the warm-up)
    void main(commandLineArgs());
  });
} else {
  void main(commandLineArgs());
}

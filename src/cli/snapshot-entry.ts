// Entry point of the start-up snapshot (scripts/build.mjs bundles this file
// and runs `node --build-snapshot` on it).  While the snapshot is built, the
// modules are loaded and the parser is constructed (Chevrotain's grammar
// analysis is the biggest part of start-up); at run time only `main` runs.
import v8 from 'node:v8';
import { Source } from '../../grammar/ast.js';
import { parse } from '../../grammar/parser.js';
import { printExpr } from '../../grammar/print.js';
import { EvalState } from '../eval/state.js';
import { main } from './main.js';

function warmUp(): void {
  const src = new Source(null, '«warm-up»', 'let f = { a, b ? 1 }: a + b; in [ (f { a = 1; }) "s${"x"}" ./p <q> (x: x.y or 2) ]');
  const e = parse(src, { basePath: '/' });
  printExpr(e);
  new EvalState({ env: {} });
}

if (v8.startupSnapshot?.isBuildingSnapshot()) {
  warmUp();
  // argv[1] is the name the launcher passes in place of a script
  v8.startupSnapshot.setDeserializeMainFunction(() => void main(process.argv.slice(2)));
} else {
  void main(process.argv.slice(2));
}

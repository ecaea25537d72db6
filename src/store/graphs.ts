// The reference graph of store paths as text: nix-store -q --tree, --graph
// (Graphviz dot) and --graphml. Pure functions over a way to look paths up,
// so that they do not depend on where the store keeps its metadata.

import { toBytes } from '../../grammar/errors.js';
import { compareBytes, storePathName } from './store-path.js';

/** What the printers need to know about a valid path. */
export interface GraphSource {
  /** The path's references (itself included when it refers to itself), byte order. */
  references(path: string): readonly string[];
  /** The references in the order nix-store lists them (each after what it refers to). */
  sortedReferences(path: string): readonly string[];
  narSize(path: string): number;
}

// (byte strings, as all output: UTF-8 box-drawing characters)
const TREE_CONN = toBytes('├───');
const TREE_LAST = toBytes('└───');
const TREE_LINE = toBytes('│   ');
const TREE_NULL = '    ';

/**
 * `nix-store -q --tree`: each root, then its references below it, drawn with
 * box characters; a path already drawn (in this tree or an earlier root's) is
 * not expanded again but marked ` [...]`. `done` is shared by the roots.
 */
export function printTree(src: GraphSource, roots: readonly string[], line: (s: string) => void): void {
  const done = new Set<string>();
  // (an explicit stack: a long chain of references must not overflow JS's)
  type Item = { path: string; first: string; rest: string };
  for (const root of roots) {
    const stack: Item[] = [{ path: root, first: '', rest: '' }];
    while (stack.length) {
      const { path, first, rest } = stack.pop()!;
      if (done.has(path)) {
        line(`${first}${path} [...]`);
        continue;
      }
      line(first + path);
      done.add(path);
      const refs = src.sortedReferences(path);
      for (let i = refs.length - 1; i >= 0; i--) {
        const last = i === refs.length - 1;
        stack.push({ path: refs[i]!, first: rest + (last ? TREE_LAST : TREE_CONN), rest: rest + (last ? TREE_NULL : TREE_LINE) });
      }
    }
  }
}

/**
 * The paths reachable from the roots in the order nix-store's graph printers
 * visit them: always the least (byte order) path not yet visited of those
 * found so far.
 */
function* visitOrder(src: GraphSource, roots: readonly string[]): Generator<string> {
  const work = new SortedSet(roots);
  const done = new Set<string>();
  for (let p = work.shift(); p !== undefined; p = work.shift()) {
    if (done.has(p)) continue;
    done.add(p);
    yield p;
    for (const r of src.references(p)) if (r !== p) work.add(r);
  }
}

/** A set of strings taken out least first (byte order). */
class SortedSet {
  private items: string[];
  private readonly has = new Set<string>();
  constructor(init: Iterable<string>) {
    for (const x of init) this.has.add(x);
    this.items = [...this.has].sort((a, b) => compareBytes(b, a));
  }
  add(x: string): void {
    if (this.has.has(x)) return;
    this.has.add(x);
    // (kept in descending order: the least is popped from the end)
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareBytes(this.items[mid]!, x) > 0) lo = mid + 1;
      else hi = mid;
    }
    this.items.splice(lo, 0, x);
  }
  shift(): string | undefined {
    const x = this.items.pop();
    if (x !== undefined) this.has.delete(x);
    return x;
  }
}

const baseName = (p: string): string => p.slice(p.lastIndexOf('/') + 1);

/** (store path names have no quotes, backslashes or XML specials to escape) */
const dotQuoted = (s: string): string => `"${s}"`;

const EDGE_COLOURS = ['black', 'red', 'green', 'blue', 'magenta', 'burlywood'];

/**
 * `nix-store -q --graph`: a dot digraph with a node per path (labelled with
 * its name) and an edge from each reference to its referrer, edge colours
 * taken in turn from nix-store's list.
 */
export function dotGraph(src: GraphSource, roots: readonly string[]): string {
  let out = 'digraph G {\n';
  let colour = 0;
  for (const p of visitOrder(src, roots)) {
    out += `${dotQuoted(baseName(p))} [label = ${dotQuoted(storePathName(p))}, shape = box, style = filled, fillcolor = "#ff0000"];\n`;
    for (const r of src.references(p)) {
      if (r === p) continue;
      out += `${dotQuoted(baseName(r))} -> ${dotQuoted(baseName(p))} [color = ${dotQuoted(EDGE_COLOURS[colour++ % EDGE_COLOURS.length]!)}];\n`;
    }
  }
  return out + '}\n';
}

/**
 * `nix-store -q --graphml`: the same graph as GraphML, edges from referrer to
 * reference. A node's `name` is what nix-store puts there: the path's name
 * up to and including its first `-` (empty for a name without one).
 */
export function graphML(src: GraphSource, roots: readonly string[]): string {
  let out =
    "<?xml version='1.0' encoding='utf-8'?>\n" +
    "<graphml xmlns='http://graphml.graphdrawing.org/xmlns'\n" +
    "    xmlns:xsi='http://www.w3.org/2001/XMLSchema-instance'\n" +
    "    xsi:schemaLocation='http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd'>\n" +
    "<key id='narSize' for='node' attr.name='narSize' attr.type='int'/>" +
    "<key id='name' for='node' attr.name='name' attr.type='string'/>" +
    "<key id='type' for='node' attr.name='type' attr.type='string'/>" +
    "<graph id='G' edgedefault='directed'>\n";
  for (const p of visitOrder(src, roots)) {
    const name = storePathName(p);
    out +=
      `  <node id="${(baseName(p))}">\n` +
      `    <data key="narSize">${src.narSize(p)}</data>\n` +
      `    <data key="name">${(name.slice(0, name.indexOf('-') + 1))}</data>\n` +
      `    <data key="type">${p.endsWith('.drv') ? 'derivation' : 'output-path'}</data>\n` +
      '  </node>\n';
    for (const r of src.references(p)) {
      if (r === p) continue;
      out += `  <edge source="${(baseName(p))}" target="${(baseName(r))}"/>\n`;
    }
  }
  return out + '</graph>\n</graphml>\n';
}

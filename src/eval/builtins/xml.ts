// XML: builtins.toXML and the `--xml` output of the CLI, in CppNix's format:
//
//   <?xml version='1.0' encoding='utf-8'?>
//   <expr>
//     <attrs>
//       <attr name="a">
//         <int value="1" />
//       </attr>
//     </attrs>
//   </expr>
//
// Elements are indented by two spaces per level; XML attributes of an element
// are written in byte order of their names; attribute sets in byte order of
// their names.  Derivations are written as <derivation drvPath=… outPath=…>
// and their attributes only the first time a drvPath is met (later:
// <repeated />).  Functions show their argument pattern; built-in functions
// and values not evaluated (without `strict`) show as <unevaluated />.  Without
// `strict`, functions inside sets and lists count as not evaluated, as they
// are in CppNix (which creates them lazily).

import type { Pos } from '../../../grammar/ast.js';
import { formatFloat, isDerivation } from '../print.js';
import { nativeStackOverflow } from '../errors.js';
import { enterNativeDepth, leaveDepth, mergeContexts } from '../ops.js';
import { Attrs, EMPTY_CTX, Lambda, NixFloat, NixPath, NixStr, Thunk, compareBytes, mkStr, type Context, type Value } from '../value.js';
import type { Registry } from './registry.js';

export interface XMLOptions {
  /** Add `path`, `line` and `column` to attributes and functions (nix-instantiate without --no-location). */
  location: boolean;
  /** Force values as they are printed (else unevaluated ones print as <unevaluated />). */
  strict: boolean;
}

/** Escapes an XML attribute value as CppNix's XML writer does (newlines too, against attribute normalisation). */
function escapeAttr(s: string): string {
  if (!/["<>&\n]/.test(s)) return s;
  let r = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    switch (c) {
      case '"':
        r += '&quot;';
        break;
      case '<':
        r += '&lt;';
        break;
      case '>':
        r += '&gt;';
        break;
      case '&':
        r += '&amp;';
        break;
      case '\n':
        r += '&#xA;';
        break;
      default:
        r += c;
    }
  }
  return r;
}

type XMLAttrs = [name: string, value: string][];

class XMLWriter {
  private readonly out: string[] = ["<?xml version='1.0' encoding='utf-8'?>\n"];
  private depth = 0;

  private tag(name: string, attrs: XMLAttrs): string {
    let s = ' '.repeat(this.depth * 2) + '<' + name;
    for (const [k, v] of [...attrs].sort((a, b) => compareBytes(a[0], b[0]))) s += ` ${k}="${escapeAttr(v)}"`;
    return s;
  }

  open(name: string, attrs: XMLAttrs = []): void {
    this.out.push(this.tag(name, attrs) + '>\n');
    this.depth++;
  }

  close(name: string): void {
    this.depth--;
    this.out.push(' '.repeat(this.depth * 2) + `</${name}>\n`);
  }

  empty(name: string, attrs: XMLAttrs = []): void {
    this.out.push(this.tag(name, attrs) + ' />\n');
  }

  text(): string {
    return this.out.join('');
  }
}

function posAttrs(pos: Pos | null | undefined): XMLAttrs {
  if (!pos) return [];
  const { line, column } = pos.src.position(pos.offset);
  const r: XMLAttrs = [];
  if (pos.src.path !== null) r.push(['path', pos.src.path]);
  r.push(['line', String(line)], ['column', String(column)]);
  return r;
}

/** The XML document of a value; the contexts of the strings written are added to `acc.ctx`. */
function toXMLDoc(v: Value, opts: XMLOptions, acc: { ctx: Context }): string {
  const doc = new XMLWriter();
  const drvsSeen = new Set<string>();

  const showAttrs = (a: Attrs): void => {
    for (const k of a.keys()) {
      const attrs: XMLAttrs = [['name', k]];
      if (opts.location) attrs.push(...posAttrs(a.posOf(k)));
      doc.open('attr', attrs);
      go(a.get(k)!);
      doc.close('attr');
    }
  };

  /** A string-valued attribute of a derivation, for the <derivation> element. */
  const drvAttr = (a: Attrs, name: string): string | undefined => {
    let x = a.get(name);
    if (x === undefined) return undefined;
    if (x instanceof Thunk) {
      if (opts.strict) x = x.force();
      else if (x.code === null) x = x.v as Value;
    }
    if (typeof x === 'string') return x;
    if (x instanceof NixStr) return x.s;
    return undefined;
  };

  // A list or set met again inside itself would be written forever (CppNix
  // recurses until its stack is exhausted: `builtins` holds `builtins`), so
  // that fails at once, as it would in the end; other endless nesting fails
  // past max-call-depth.  (A derivation is written in full only once.)
  const path = new Set<object>();
  const enter = (v: object): void => {
    if (path.has(v)) throw nativeStackOverflow();
    enterNativeDepth();
    path.add(v);
  };
  const leave = (v: object): void => {
    path.delete(v);
    leaveDepth();
  };

  const go = (v: Value, root = false): void => {
    if (v instanceof Lambda && !opts.strict && !root) {
      // CppNix keeps a function that is an element of a set or list as a thunk
      // until something forces it; tsnix builds lambdas eagerly.
      doc.empty('unevaluated');
      return;
    }
    if (v instanceof Thunk) {
      if (opts.strict) v = v.force();
      else if (v.code === null) v = v.v as Value;
      else {
        doc.empty('unevaluated');
        return;
      }
    }
    if (v === null) doc.empty('null');
    else if (typeof v === 'boolean') doc.empty('bool', [['value', v ? 'true' : 'false']]);
    else if (typeof v === 'number' || typeof v === 'bigint') doc.empty('int', [['value', String(v)]]);
    else if (typeof v === 'string') doc.empty('string', [['value', v]]);
    else if (v instanceof NixStr) {
      acc.ctx = mergeContexts(acc.ctx, v.ctx);
      doc.empty('string', [['value', v.s]]);
    } else if (v instanceof NixFloat) doc.empty('float', [['value', formatFloat(v.v)]]);
    else if (v instanceof NixPath) doc.empty('path', [['value', v.path]]);
    else if (Array.isArray(v)) {
      enter(v);
      try {
        doc.open('list');
        for (const x of v) go(x);
        doc.close('list');
      } finally {
        leave(v);
      }
    } else if (v instanceof Attrs) {
      if (isDerivation(v)) {
        const attrs: XMLAttrs = [];
        const drvPath = drvAttr(v, 'drvPath');
        if (drvPath !== undefined) attrs.push(['drvPath', drvPath]);
        const outPath = drvAttr(v, 'outPath');
        if (outPath !== undefined) attrs.push(['outPath', outPath]);
        doc.open('derivation', attrs);
        if (drvPath !== undefined && drvPath !== '' && !drvsSeen.has(drvPath)) {
          drvsSeen.add(drvPath);
          showAttrs(v);
        } else doc.empty('repeated');
        doc.close('derivation');
      } else {
        enter(v);
        try {
          doc.open('attrs');
          showAttrs(v);
          doc.close('attrs');
        } finally {
          leave(v);
        }
      }
    } else if (v instanceof Lambda) {
      const info = v.info;
      doc.open('function', opts.location ? posAttrs(info.pos) : []);
      if (info.formals) {
        const attrs: XMLAttrs = [];
        if (info.arg !== undefined) attrs.push(['name', info.arg]);
        if (info.formals.ellipsis) attrs.push(['ellipsis', '1']);
        doc.open('attrspat', attrs);
        for (const name of [...info.formals.names].sort(compareBytes)) doc.empty('attr', [['name', name]]);
        doc.close('attrspat');
      } else {
        doc.empty('varpat', [['name', info.arg ?? '']]);
      }
      doc.close('function');
    } else {
      // built-in functions (and their partial applications) are not serialised
      doc.empty('unevaluated');
    }
  };

  doc.open('expr');
  go(v, true);
  doc.close('expr');
  return doc.text();
}

/**
 * The XML text of a value as `nix-instantiate --eval --xml` prints it (with
 * `--no-location`: `location: false`; with `--strict`: `strict: true`).
 */
export function valueToXML(v: Value, opts: { location: boolean; strict: boolean }): string {
  return toXMLDoc(v, opts, { ctx: EMPTY_CTX });
}

export function register(r: Registry): void {
  r.add({
    name: 'toXML',
    args: ['e'],
    doc:
      'Return a string containing an XML representation of *e*. The main application for `toXML` is to communicate information with the builder in a more structured format than plain environment variables.\n\n' +
      'The whole value is evaluated. Each kind of value has its own element: `<string value="…" />`, `<int value="…" />`, `<float value="…" />`, `<bool value="true" />`, `<null />`, `<path value="…" />`, `<list>…</list>`, and `<attrs>` with an `<attr name="…">` element for each attribute (in alphabetical order). ' +
      'Functions are written as `<function>` with their argument pattern (`<varpat name="x" />`, or `<attrspat>` listing the expected attributes), and derivations as `<derivation drvPath="…" outPath="…">` with their attributes, which are written only the first time a derivation occurs (later occurrences contain `<repeated />`).\n\n' +
      'For example,\n\n```nix\nbuiltins.toXML { a = "s"; }\n```\n\nreturns\n\n```xml\n<?xml version=\'1.0\' encoding=\'utf-8\'?>\n<expr>\n  <attrs>\n    <attr name="a">\n      <string value="s" />\n    </attr>\n  </attrs>\n</expr>\n```\n\n' +
      'The string keeps the contexts of the strings in *e*, so that a derivation can use it (for instance through an XSLT stylesheet) to refer to other store paths.',
    fn: ([e]) => {
      const acc = { ctx: EMPTY_CTX };
      const s = toXMLDoc(e!, { location: false, strict: true }, acc);
      return mkStr(s, acc.ctx);
    },
  });
}

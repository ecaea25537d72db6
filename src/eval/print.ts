// Printing values: as `nix-instantiate --eval` prints them, and as CppNix's
// newer value printer does inside error messages and `trace`.

import { showPos } from '../../grammar/errors.js';
import { formatFloat } from '../../grammar/print.js';
import { toBytes } from '../../grammar/errors.js';
import { Attrs, Lambda, NixFloat, NixPath, NixStr, PrimOp, PrimOpApp, Thunk, type Value } from './value.js';
import { ObjectSet } from './object-set.js';

/** A float as C++'s `std::ostream <<` prints it (%g: six significant digits, ties to even). */
export { formatFloat };

const LAQUO = toBytes('«');
const RAQUO = toBytes('»');

/** A Nix string literal with CppNix's escapes. */
export function quoteString(s: string): string {
  // (one regular expression over the whole string: a loop adding a character
  // at a time takes seconds for a string of tens of MB)
  return NEEDS_QUOTING.test(s) ? `"${s.replace(QUOTED, (c) => QUOTES[c]!)}"` : `"${s}"`;
}

const NEEDS_QUOTING = /["\\\n\r\t]|\$\{/;
const QUOTED = /["\\\n\r\t]|\$(?=\{)/g;
const QUOTES: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', $: '\\$' };

export function isDerivation(v: Value): v is Attrs {
  if (!(v instanceof Attrs)) return false;
  const t = v.get('type');
  if (t === undefined) return false;
  const tv = t instanceof Thunk ? t.force() : t;
  return (typeof tv === 'string' && tv === 'derivation') || (tv instanceof NixStr && tv.s === 'derivation');
}

/**
 * `nix-instantiate --eval` output.  Values not yet evaluated print as
 * `<CODE>` (only without --strict), functions as `<LAMBDA>` / `<PRIMOP>` /
 * `<PRIMOP-APP>`, a set or list seen again on the way down as «repeated».
 * With `write`, the text goes to it in pieces as it is made (and "" is
 * returned): a big value's printout can be longer than a JS string or array
 * can be (CppNix streams it too).
 */
export function printInstantiate(v: Value, write?: (piece: string) => void): string {
  let out: string[] = [];
  const pieces: string[] = [];
  // (out is joined into one piece every PIECE_PARTS parts, checked between elements)
  const flush = () => {
    const piece = out.join('');
    out = [];
    if (write) write(piece);
    else pieces.push(piece);
  };
  const seen = new ObjectSet<object>();
  const go = (v: Value) => {
    // CppNix remembers a list by the Value holding it (its thunk here), a set by its bindings
    let where: object | null = null;
    if (v instanceof Thunk) {
      if (v.code !== null) {
        out.push('<CODE>');
        return;
      }
      where = v;
      v = v.v as Value;
    }
    if (v instanceof Attrs) {
      // every non-empty set or list printed once (not only along the path), as CppNix does
      if (seen.has(v)) {
        out.push(`${LAQUO}repeated${RAQUO}`);
        return;
      }
      if (v.size) seen.add(v);
      out.push('{ ');
      for (const k of v.keys()) {
        out.push(printAttrName(k), ' = ');
        go(v.get(k)!);
        out.push('; ');
        if (out.length >= PIECE_PARTS) flush();
      }
      out.push('}');
      return;
    }
    if (Array.isArray(v)) {
      const key = where ?? v;
      if (seen.has(key)) {
        out.push(`${LAQUO}repeated${RAQUO}`);
        return;
      }
      if (v.length) seen.add(key);
      out.push('[ ');
      for (const x of v) {
        go(x);
        out.push(' ');
        if (out.length >= PIECE_PARTS) flush();
      }
      out.push(']');
      return;
    }
    if (v instanceof Lambda) out.push('<LAMBDA>');
    else if (v instanceof PrimOp) out.push('<PRIMOP>');
    else if (v instanceof PrimOpApp) out.push('<PRIMOP-APP>');
    else out.push(printScalar(v));
  };
  go(v);
  flush();
  return write ? '' : pieces.join('');
}

/** See printInstantiate. */
const PIECE_PARTS = 1 << 16;

function printScalar(v: Value): string {
  if (v === null) return 'null';
  if (v === true) return 'true';
  if (v === false) return 'false';
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (typeof v === 'string') return quoteString(v);
  if (v instanceof NixStr) return quoteString(v.s);
  if (v instanceof NixFloat) return formatFloat(v.v);
  if (v instanceof NixPath) return v.path;
  return '?';
}

const ID_RE = /^[a-zA-Z_][a-zA-Z0-9_'-]*$/;
// (as CppNix's printer: `or` is a keyword only after a selection, so it prints bare)
const KEYWORDS = new Set(['if', 'then', 'else', 'assert', 'with', 'let', 'in', 'rec', 'inherit']);

export function printAttrName(k: string): string {
  return ID_RE.test(k) && !KEYWORDS.has(k) ? k : quoteString(k);
}

export interface PrintOptions {
  /** Force thunks while printing (`:p`, --strict output). */
  force?: boolean;
  maxDepth?: number;
  maxAttrs?: number;
  maxListItems?: number;
  maxStringLength?: number;
  /** Print derivations as «derivation /nix/store/….drv». */
  derivationPaths?: boolean;
}

/**
 * CppNix's newer printer (error messages, `trace`, the REPL): «thunk»,
 * «lambda @ FILE:L:C», «primop NAME», «partially applied primop NAME»,
 * «repeated», «potential infinite recursion».
 */
export function printValue(v: Value, opts: PrintOptions = {}): string {
  const out: string[] = [];
  const seen = new Set<object>();
  const maxDepth = opts.maxDepth ?? Infinity;
  // CppNix's budgets are for the whole printout, counted after each printed item
  let attrsPrinted = 0;
  let itemsPrinted = 0;
  const go = (v: Value, depth: number) => {
    if (v instanceof Thunk) {
      if (v.code !== null) {
        if (!opts.force) {
          out.push(`${LAQUO}thunk${RAQUO}`);
          return;
        }
        try {
          v = v.force();
        } catch {
          out.push(`${LAQUO}error${RAQUO}`);
          return;
        }
      } else v = v.v as Value;
    }
    if (v instanceof Attrs) {
      if (seen.has(v)) {
        out.push(`${LAQUO}repeated${RAQUO}`);
        return;
      }
      if (opts.derivationPaths && isDerivation(v)) {
        const dp = v.get('drvPath');
        const d = dp instanceof Thunk ? (dp.code === null ? dp.v : undefined) : dp;
        const s = typeof d === 'string' ? d : d instanceof NixStr ? d.s : '???';
        out.push(`${LAQUO}derivation ${s}${RAQUO}`);
        return;
      }
      if (depth >= maxDepth) {
        out.push('{ ... }');
        return;
      }
      seen.add(v);
      const keys = v.keys();
      if (keys.length === 0) out.push('{ }');
      else {
        out.push('{ ');
        let n = 0;
        for (const k of keys) {
          if (opts.maxAttrs !== undefined && attrsPrinted >= opts.maxAttrs) {
            out.push(`${LAQUO}${keys.length - n} attribute${keys.length - n === 1 ? '' : 's'} elided${RAQUO} `);
            break;
          }
          out.push(printAttrName(k), ' = ');
          go(v.get(k)!, depth + 1);
          out.push('; ');
          n++;
          attrsPrinted++;
        }
        out.push('}');
      }
      seen.delete(v);
      return;
    }
    if (Array.isArray(v)) {
      if (seen.has(v)) {
        out.push(`${LAQUO}repeated${RAQUO}`);
        return;
      }
      if (v.length === 0) {
        out.push('[ ]');
        return;
      }
      if (depth >= maxDepth) {
        out.push('[ ... ]');
        return;
      }
      seen.add(v);
      out.push('[ ');
      let n = 0;
      for (const x of v) {
        if (opts.maxListItems !== undefined && itemsPrinted >= opts.maxListItems) {
          out.push(`${LAQUO}${v.length - n} item${v.length - n === 1 ? '' : 's'} elided${RAQUO} `);
          break;
        }
        go(x, depth + 1);
        out.push(' ');
        n++;
        itemsPrinted++;
      }
      out.push(']');
      seen.delete(v);
      return;
    }
    if (v instanceof Lambda) {
      out.push(`${LAQUO}lambda${v.info.name !== undefined ? ' ' + v.info.name : ''} @ ${showPos(v.info.pos)}${RAQUO}`);
      return;
    }
    if (v instanceof PrimOp) {
      out.push(`${LAQUO}primop ${v.name}${RAQUO}`);
      return;
    }
    if (v instanceof PrimOpApp) {
      out.push(`${LAQUO}partially applied primop ${v.op.name}${RAQUO}`);
      return;
    }
    if ((typeof v === 'string' || v instanceof NixStr) && opts.maxStringLength !== undefined) {
      const s = typeof v === 'string' ? v : v.s;
      if (s.length > opts.maxStringLength) {
        out.push(quoteString(s.slice(0, opts.maxStringLength)) + `${LAQUO}${s.length - opts.maxStringLength} bytes elided${RAQUO}`);
        return;
      }
    }
    out.push(printScalar(v));
  };
  go(v, 0);
  return out.join('');
}

/** The printer settings CppNix uses for values inside error messages. */
export function printForError(v: Value): string {
  return printValue(v, { maxDepth: 10, maxAttrs: 10, maxListItems: 10, maxStringLength: 1024, derivationPaths: true });
}

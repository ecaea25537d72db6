// Evaluation errors and their rendering as CppNix prints them:
//
//   error:
//          … while calling the 'abort' builtin
//            at FILE:1:14:
//               1| …
//
//          error: evaluation aborted with the following error message: 'x'
//
// Frames are collected innermost first while the error propagates and printed
// outermost first.  All text is byte strings.

import type { Pos } from '../../grammar/ast.js';
import { showPosWithFrame, toBytes } from '../../grammar/errors.js';

export const ELLIPSIS = toBytes('…');

export interface Frame {
  msg: string;
  pos: Pos | null;
  /** Shown even without --show-trace (addErrorContext, "while evaluating derivation …"). */
  important?: boolean;
}

export class NixError extends Error {
  readonly frames: Frame[] = [];
  /** Extra lines after the position (e.g. "Did you mean …?"). */
  hint: string | null = null;
  constructor(
    readonly msg: string,
    public pos: Pos | null = null,
  ) {
    super(msg);
  }

  addTrace(msg: string, pos: Pos | null = null, important = false): this {
    this.frames.push(important ? { msg, pos, important } : { msg, pos });
    return this;
  }

  /**
   * A copy with its own frames: what forcing a thunk whose evaluation failed
   * throws again (CppNix memoises the error and rethrows a clone, so frames
   * added by the new propagation do not show up in later ones).
   */
  clone(): this {
    const c = Object.create(Object.getPrototypeOf(this) as object) as this;
    Object.assign(c, this);
    (c as { frames: Frame[] }).frames = this.frames.map((f) => ({ ...f }));
    return c;
  }

  /** Sets the position if the error has none yet. */
  at(pos: Pos | null): this {
    if (!this.pos && pos) this.pos = pos;
    return this;
  }
}

/** `throw`: caught by tryEval. */
export class ThrownError extends NixError {}
/** A failed `assert`: caught by tryEval. */
export class AssertionError extends NixError {}
/** `abort`: never caught. */
export class AbortError extends NixError {}
/**
 * A usage error raised during evaluation (CppNix's UsageError, e.g. an
 * unknown hash algorithm): the command adds "Try 'PROGRAM --help' for more
 * information." after it.  Not caught by tryEval.
 */
export class NixUsageError extends NixError {}
/** Infinite recursion (a thunk forced while being forced). */
export class InfiniteRecursionError extends NixError {
  /** The thunk found being forced again (an object; typed loosely to avoid a cycle with value.ts). */
  thunk: object | null = null;
}

export function infiniteRecursion(pos: Pos | null, thunk: object | null = null): InfiniteRecursionError {
  const e = new InfiniteRecursionError('infinite recursion encountered', pos);
  e.thunk = thunk;
  return e;
}

export function typeError(msg: string, pos: Pos | null = null): NixError {
  return new NixError(msg, pos);
}

/** What CppNix reports when a recursion exhausts its native stack (and tsnix when its JS stack overflows). */
export const NATIVE_STACK_OVERFLOW = 'stack overflow (possible infinite recursion)';

/**
 * That stack overflow, thrown where tsnix stops a recursion CppNix does not
 * count: a RangeError, as a JS stack overflow is (not a Nix error, so tryEval
 * does not catch it, nor does a thunk keep it).
 */
export function nativeStackOverflow(): RangeError {
  return new RangeError(NATIVE_STACK_OVERFLOW);
}

/**
 * What a JS RangeError means for the user: a value too big for V8 (a string
 * past its 2^29 - 24 characters, an array past its length limit), else a
 * stack overflow (the JS stack, or a counted recursion: see
 * ops.ts's enterNativeDepth), for which this gives null.
 */
/** A JS string holds at most 2^29 - 24 UTF-16 code units (tsnix: bytes). */
export const STRING_TOO_LONG = 'string too long: tsnix strings hold at most 536870888 bytes';

export function rangeErrorMessage(e: RangeError): string | null {
  if (/string length/i.test(e.message)) return STRING_TOO_LONG;
  if (/array length|allocation failed/i.test(e.message)) return 'list too long for tsnix to hold';
  // (a JS Map or Set holds at most 2^24 entries: a set's attributes, genericClosure's keys, …)
  if (/(Map|Set) maximum size exceeded/.test(e.message)) return 'too many entries for tsnix to hold: a set of attributes holds at most 16777216';
  return null;
}

/** Renders an error as CppNix does (without a trailing newline). */
export function renderError(e: NixError, showTrace: boolean, prefix = 'error'): string {
  const frames = [...e.frames].reverse();
  const lines: string[] = [];
  const head = `${prefix}: `;
  const indent = ' '.repeat(head.length);
  const body = (first: string) => {
    const parts = [first + indentRest(e.msg, indent)];
    if (e.pos) parts.push(showPosWithFrame(e.pos, head.length, head.length));
    if (e.hint) parts.push(indent + indentRest(e.hint, indent));
    return parts.join('\n');
  };
  if (frames.length === 0) return body(head);
  lines.push(`${prefix}:`);
  // As CppNix's showErrorInfo: without --show-trace, frames stop once more
  // than 3 "units" are printed (a frame with a position counts twice), except
  // the important ones.  A frame already printed (same message and position)
  // is skipped; a run of more than 5 skipped frames becomes "(N duplicate
  // frames omitted)", a shorter run is printed after all.
  const printed = new Set<string>();
  let skipped: Frame[] = [];
  let count = 0;
  let truncated = false;
  const show = (f: Frame) => {
    let s = `${indent}${ELLIPSIS} ${indentRest(f.msg, indent + '  ')}`;
    if (f.pos) {
      s += '\n' + showPosWithFrame(f.pos, head.length + 2, head.length);
      count++;
    }
    lines.push(s + '\n');
  };
  const flush = () => {
    if (skipped.length > 5) lines.push(`${indent}(${skipped.length} duplicate frames omitted)\n`);
    else for (const f of skipped) show(f);
    skipped = [];
  };
  for (const f of frames) {
    if (f.msg === '') continue;
    if (!showTrace && count > 3) truncated = true;
    if (truncated && !f.important) continue;
    const key = `${f.msg}\0${f.pos ? `${f.pos.src.origin}:${f.pos.offset}` : ''}`;
    if (printed.has(key)) {
      skipped.push(f);
      continue;
    }
    printed.add(key);
    flush();
    count++;
    show(f);
  }
  flush();
  if (truncated) lines.push(`${indent}(stack trace truncated; use '--show-trace' to show the full, detailed trace)\n`);
  lines.push(body(indent + head));
  return lines.join('\n');
}

function indentRest(s: string, indent: string): string {
  return s.includes('\n') ? s.replace(/\n/g, '\n' + indent) : s;
}

// The evaluating side of `:x`, the value explorer: values are nodes with
// ids; opening a node forces its value (only it), listing its children
// forces nothing. Errors are kept on the node that failed.

import { fromBytes } from '../../grammar/errors.js';
import { printAttrName } from '../eval/print.js';
import { Attrs, Thunk, type Value } from '../eval/value.js';
import { isFatal, shortErrorMessage, summarize } from './print.js';

export interface XNode {
  id: number;
  /** The attribute name or `[i]` (display text). */
  label: string;
  /** Display text (ANSI when colours are on). */
  summary: string;
  /** Whether the value is known (forced). */
  evaluated: boolean;
  /** A set or a list with elements (once evaluated). */
  expandable: boolean;
  /** The error forcing it gave (display text). */
  error?: string;
}

export class Explorer {
  private readonly values = new Map<number, Value>();
  private readonly errors = new Map<number, string>();
  private readonly labels = new Map<number, string>();
  private nextId = 1;

  constructor(private readonly color: boolean) {}

  private add(v: Value, label: string): number {
    const id = this.nextId++;
    this.values.set(id, v);
    this.labels.set(id, label);
    return id;
  }

  /** The root node of a value (already forced by the caller). */
  root(v: Value, label: string): XNode {
    return this.node(this.add(v, label));
  }

  node(id: number): XNode {
    const v = this.values.get(id);
    const label = this.labels.get(id) ?? '?';
    if (v === undefined) return { id, label, summary: '?', evaluated: false, expandable: false, error: 'unknown node' };
    const err = this.errors.get(id);
    if (err !== undefined) return { id, label, summary: '', evaluated: true, expandable: false, error: err };
    const evaluated = !(v instanceof Thunk) || v.code === null;
    const w = v instanceof Thunk && v.code === null ? (v.v as Value) : v;
    const expandable = evaluated && ((w instanceof Attrs && w.size > 0) || (Array.isArray(w) && w.length > 0));
    return { id, label, summary: fromBytes(summarize(v, this.color)), evaluated, expandable };
  }

  /** Forces a node's value (errors are kept on the node). Interrupts propagate. */
  force(id: number): XNode {
    const v = this.values.get(id);
    if (v instanceof Thunk && v.code !== null && !this.errors.has(id)) {
      try {
        v.force();
      } catch (e) {
        if (isFatal(e)) throw e;
        this.errors.set(id, fromBytes(shortErrorMessage(e)));
      }
    }
    return this.node(id);
  }

  /** Children `offset`… (at most `limit`) of an evaluated set or list (not forced), and how many there are. */
  children(id: number, offset = 0, limit = 1000): { nodes: XNode[]; total: number } {
    let v = this.values.get(id);
    if (v instanceof Thunk) v = v.code === null ? (v.v as Value) : undefined;
    const nodes: XNode[] = [];
    if (v instanceof Attrs) {
      const keys = v.keys();
      for (const k of keys.slice(offset, offset + limit)) nodes.push(this.node(this.add(v.get(k)!, fromBytes(printAttrName(k)))));
      return { nodes, total: keys.length };
    }
    if (Array.isArray(v)) {
      const end = Math.min(v.length, offset + limit);
      for (let i = offset; i < end; i++) nodes.push(this.node(this.add(v[i]!, `[${i}]`)));
      return { nodes, total: v.length };
    }
    return { nodes, total: 0 };
  }
}

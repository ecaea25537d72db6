// `:x EXPR`: an interactive tree of a value. ↑/↓ move, → (or Enter) opens
// the selected value (forcing it, and only it), ← closes it or goes to the
// parent, Esc (or q) returns to the prompt. Errors are shown in place.

import React from 'react';
import { Box, Text } from 'ink';
import type { ReplEngine } from './engine.js';
import type { XNode } from './explore.js';
import type { Key } from './keys.js';

const PAGE = 500;

export interface TreeRow {
  node: XNode;
  depth: number;
  parent: TreeRow | null;
  expanded: boolean;
  children: TreeRow[] | null;
  total: number;
}

/** A visible line: a node, or the "more" line of a long list. */
type Line = { row: TreeRow } | { more: TreeRow };

export interface ExplorerState {
  root: TreeRow;
  selected: number;
  top: number;
  busy: boolean;
}

export function newExplorer(root: XNode): ExplorerState {
  return { root: { node: root, depth: 0, parent: null, expanded: false, children: null, total: 0 }, selected: 0, top: 0, busy: false };
}

function lines(root: TreeRow): Line[] {
  const out: Line[] = [];
  const go = (r: TreeRow) => {
    out.push({ row: r });
    if (r.expanded && r.children) {
      for (const c of r.children) go(c);
      if (r.children.length < r.total) out.push({ more: r });
    }
  };
  go(root);
  return out;
}

export interface ExplorerContext {
  engine: ReplEngine;
  get(): ExplorerState | null;
  set(s: ExplorerState): void;
  done(): void;
  height: number;
}

async function loadChildren(r: TreeRow, engine: ReplEngine): Promise<void> {
  const offset = r.children?.length ?? 0;
  const { nodes, total } = await engine.exploreChildren(r.node.id, offset, PAGE);
  const kids = nodes.map((n): TreeRow => ({ node: n, depth: r.depth + 1, parent: r, expanded: false, children: null, total: 0 }));
  r.children = [...(r.children ?? []), ...kids];
  r.total = total;
}

/** Handles a key in the explorer. */
export function explorerKey(k: Key, s: ExplorerState, ctx: ExplorerContext): void {
  const { engine } = ctx;
  if (s.busy) {
    if (k.kind === 'ctrl' && k.letter === 'c') engine.interrupt();
    return;
  }
  const all = lines(s.root);
  const select = (i: number) => {
    const selected = Math.max(0, Math.min(all.length - 1, i));
    let top = s.top;
    if (selected < top) top = selected;
    if (selected >= top + ctx.height) top = selected - ctx.height + 1;
    ctx.set({ ...s, selected, top });
  };
  const run = (f: () => Promise<void>) => {
    ctx.set({ ...s, busy: true });
    void f().then(() => {
      const cur = ctx.get();
      if (cur) ctx.set({ ...cur, busy: false });
    });
  };
  const line = all[s.selected];
  const name = k.kind === 'key' ? k.name : k.kind === 'ctrl' ? `ctrl-${k.letter}` : k.text;
  switch (name) {
    case 'up':
    case 'k':
    case 'ctrl-p':
      return select(s.selected - 1);
    case 'down':
    case 'j':
    case 'ctrl-n':
      return select(s.selected + 1);
    case 'pageup':
      return select(s.selected - ctx.height);
    case 'pagedown':
      return select(s.selected + ctx.height);
    case 'home':
    case 'g':
      return select(0);
    case 'end':
    case 'G':
      return select(all.length - 1);
    case 'escape':
    case 'q':
    case 'ctrl-c':
    case 'ctrl-d':
      return ctx.done();
    case 'right':
    case 'enter':
    case 'l':
    case ' ': {
      if (!line) return;
      if ('more' in line) return run(() => loadChildren(line.more, engine));
      const r = line.row;
      if (!r.node.evaluated) {
        return run(async () => {
          const n = await engine.exploreForce(r.node.id);
          if (n) r.node = n;
          else r.node = { ...r.node, evaluated: true, error: 'the evaluator was restarted; open the value again with :x' };
          if (r.node.expandable) {
            await loadChildren(r, engine);
            r.expanded = true;
          }
        });
      }
      if (!r.node.expandable) return;
      if (!r.expanded) {
        if (r.children) {
          r.expanded = true;
          return ctx.set({ ...s });
        }
        return run(async () => {
          await loadChildren(r, engine);
          r.expanded = true;
        });
      }
      return select(s.selected + 1);
    }
    case 'left':
    case 'h': {
      if (!line) return;
      if ('more' in line) return select(all.findIndex((l) => 'row' in l && l.row === line.more));
      const r = line.row;
      if (r.expanded) {
        r.expanded = false;
        return ctx.set({ ...s });
      }
      if (r.parent) return select(all.findIndex((l) => 'row' in l && l.row === r.parent));
      return;
    }
  }
}

export function ExplorerView({ state, width, height }: { state: ExplorerState; width: number; height: number }): React.ReactElement {
  const all = lines(state.root);
  const shown = all.slice(state.top, state.top + height);
  return (
    <Box flexDirection="column">
      {shown.map((l, i) => {
        const sel = state.top + i === state.selected;
        if ('more' in l) {
          const r = l.more;
          return (
            <Text key={`more-${r.node.id}`} inverse={sel} dimColor={!sel}>
              {'  '.repeat(r.depth + 1)}… {r.total - (r.children?.length ?? 0)} more (→ to show)
            </Text>
          );
        }
        const r = l.row;
        const n = r.node;
        const marker = n.error ? '✗' : !n.evaluated ? '·' : n.expandable ? (r.expanded ? '▾' : '▸') : ' ';
        return (
          <Text key={n.id} wrap="truncate-end">
            {'  '.repeat(r.depth)}
            <Text inverse={sel}>
              {marker} {n.label}
            </Text>
            {n.error ? (
              <Text color="red"> error: {n.error.split('\n')[0]}</Text>
            ) : (
              <Text>
                {' = '}
                {n.summary.slice(0, Math.max(10, width * 4))}
              </Text>
            )}
          </Text>
        );
      })}
      <Text dimColor>
        {state.busy ? 'evaluating… (Ctrl-C interrupts)' : '↑↓ move  → open  ← close  Esc back to the prompt'}
        {all.length > height ? `  [${state.selected + 1}/${all.length}]` : ''}
      </Text>
    </Box>
  );
}

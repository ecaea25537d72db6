// The interactive REPL: an Ink application. Finished output goes to the
// scrollback (<Static>); the live part below it is the prompt with the line
// being edited, completions, the progress of builds, or the explorer.
//
// Keys come from Ink's input stream (raw mode) and are parsed by keys.ts.
// Keys typed while an evaluation runs are kept and handled after it (type
// ahead); Ctrl-C interrupts it.

import React, { useCallback, useEffect, useReducer, useRef } from 'react';
import { Box, Static, Text, useStdin, useStdout } from 'ink';
import type { BuildProgress } from './build.js';
import type { OutputBus } from './bus.js';
import type { ReplEngine } from './engine.js';
import { ExplorerView, explorerKey, newExplorer, type ExplorerState } from './explorer.js';
import type { XNode } from './explore.js';
import type { History } from './history.js';
import { parseKeys, type Key } from './keys.js';
import * as E from './line-editor.js';
import { CONTINUATION, PROMPT } from './prompt.js';

export interface AppProps {
  engine: ReplEngine;
  bus: OutputBus;
  history: History;
  /** Printed first in the scrollback (null when already on the screen). */
  banner: string | null;
  /** Takes the keyboard over from whoever read it before the app started; returns what was typed. */
  takeover?: () => string[];
  /** Runs $EDITOR on a file (the terminal is the editor's meanwhile). */
  runEditor?: (file: string, line: number) => string | null;
  /** Called when the REPL ends. */
  onExit: () => void;
}

interface Build {
  planned: number;
  finished: number;
  failed: number;
  running: Map<string, { since: number; last: string }>;
}

interface UiState {
  mode: 'prompt' | 'busy' | 'explore' | 'edit' | 'exit';
  /** Lines of an incomplete input entered so far. */
  pending: string[];
  ed: E.EditorState;
  hist: E.HistoryState;
  completions: string[] | null;
  build: Build | null;
  busySince: number;
  explorer: ExplorerState | null;
}

let itemId = 0;

/** Name of a store path without the hash (`/nix/store/abc…-hello.drv` → `hello`). */
function drvName(p: string): string {
  const base = p.slice(p.lastIndexOf('/') + 1);
  return base.replace(/^[0-9a-z]{32}-/, '').replace(/\.drv$/, '');
}

function elapsed(since: number): string {
  const s = Math.floor((Date.now() - since) / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

export function App(props: AppProps): React.ReactElement {
  const { engine, bus, history } = props;
  const { stdout } = useStdout();
  const width = stdout.columns || 80;
  const [, rerender] = useReducer((x: number) => x + 1, 0);
  const items = useRef<{ id: number; text: string }[]>(
    props.banner !== null ? [{ id: itemId++, text: props.banner + '\n' }] : [],
  );
  const partial = useRef<{ out: string; err: string }>({ out: '', err: '' });
  const st = useRef<UiState>({
    mode: 'prompt',
    pending: [],
    ed: E.EMPTY,
    hist: E.newHistory(history.entries),
    completions: null,
    build: null,
    busySince: 0,
    explorer: null,
  });
  const queue = useRef<Key[]>([]);

  const update = useCallback((patch: Partial<UiState>) => {
    Object.assign(st.current, patch);
    rerender();
  }, []);

  // The last line printed is held back (shown in the live area) so that the
  // empty line ending a command's output can be added to it: Ink drops a
  // <Static> item that is only an empty line.
  const held = useRef<string | null>(null);
  const print = useCallback((text: string) => {
    if (held.current !== null) items.current = [...items.current, { id: itemId++, text: held.current }];
    held.current = text;
    rerender();
  }, []);
  /** Moves the held line to the scrollback, with an empty line after it if `blank`. */
  const release = useCallback((blank: boolean) => {
    if (held.current === null) return;
    items.current = [...items.current, { id: itemId++, text: held.current + (blank ? '\n' : '') }];
    held.current = null;
    rerender();
  }, []);

  /** Output of the engine: whole lines go to the scrollback, a partial line waits for its end. */
  const output = useCallback(
    (stream: 'out' | 'err', text: string) => {
      const all = partial.current[stream] + text;
      const nl = all.lastIndexOf('\n');
      if (nl < 0) {
        partial.current[stream] = all;
        return;
      }
      partial.current[stream] = all.slice(nl + 1);
      print(all.slice(0, nl));
    },
    [print],
  );

  const flushPartial = useCallback(() => {
    for (const s of ['out', 'err'] as const) {
      if (partial.current[s] !== '') {
        const t = partial.current[s];
        partial.current[s] = '';
        print(t);
      }
    }
  }, [print]);

  const progress = useCallback(
    (ev: BuildProgress) => {
      let b = st.current.build ?? { planned: 0, finished: 0, failed: 0, running: new Map() };
      switch (ev.type) {
        case 'plan':
          b = { ...b, planned: ev.drvs.length };
          break;
        case 'started':
          b.running.set(ev.drv, { since: Date.now(), last: '' });
          break;
        case 'log': {
          const r = b.running.get(ev.drv);
          if (r) r.last = ev.line;
          break;
        }
        case 'finished':
          b.running.delete(ev.drv);
          b = { ...b, finished: b.finished + 1, failed: b.failed + (ev.error !== undefined ? 1 : 0) };
          break;
        case 'waiting':
          break;
        case 'end':
          update({ build: null });
          return;
      }
      update({ build: b });
    },
    [update],
  );

  useEffect(
    () =>
      bus.subscribe((e) => {
        if (e.type === 'output') output(e.stream, e.text);
        else progress(e.ev);
      }),
    [bus, output, progress],
  );

  // a clock for the elapsed times while something runs
  const mode = st.current.mode;
  useEffect(() => {
    if (mode !== 'busy') return;
    const t = setInterval(rerender, 1000);
    return () => clearInterval(t);
  }, [mode]);

  const exit = useCallback(() => {
    flushPartial();
    release(false);
    update({ mode: 'exit' });
    history.compact();
    props.onExit();
  }, [flushPartial, history, props, release, update]);

  const promptText = () => (st.current.pending.length ? CONTINUATION : PROMPT);

  /** Text of the prompt with the input, for the scrollback. */
  const echo = (text: string) => promptText() + text.split('\n').join('\n' + CONTINUATION);

  // Keys are handled by `handleKey`; while busy they wait in `queue`.
  const handleKeyRef = useRef<(k: Key) => void>(() => {});

  const drainQueue = useCallback(() => {
    while (queue.current.length && st.current.mode === 'prompt') handleKeyRef.current(queue.current.shift()!);
  }, []);

  const submit = useCallback(async () => {
    const s = st.current;
    const text = s.ed.text;
    print(echo(text));
    const input = [...s.pending, text].join('\n');
    update({ mode: 'busy', busySince: Date.now(), completions: null, ed: E.EMPTY });
    const r = await engine.run(input);
    flushPartial();
    if (r.kind === 'incomplete') {
      release(false);
      update({ mode: 'prompt', pending: [...st.current.pending, text] });
      drainQueue();
      return;
    }
    history.add(input);
    const hist = E.newHistory(history.entries);
    if (r.kind === 'explore') {
      update({ pending: [], hist, mode: 'explore', explorer: newExplorer(r.root) });
      return;
    }
    if (r.quit) {
      exit();
      return;
    }
    if (r.edit && props.runEditor) {
      // the live area is emptied before the editor takes the terminal
      release(false);
      update({ mode: 'edit', pending: [], hist });
      // let the live area disappear before the editor takes the terminal
      await new Promise((res) => setTimeout(res, 30));
      const error = props.runEditor(r.edit.file, r.edit.line);
      if (error) print(error);
      await engine.afterEdit();
      flushPartial();
    }
    release(true);
    update({ mode: 'prompt', pending: [], hist });
    drainQueue();
  }, [drainQueue, engine, exit, flushPartial, history, print, props, release, update]);

  const complete = useCallback(async () => {
    const s = st.current;
    update({ mode: 'busy', busySince: Date.now() });
    const before = s.ed;
    const c = await engine.complete(before.text, before.cursor);
    let ed = st.current.ed;
    let completions: string[] | null = null;
    if (c.candidates.length === 1) {
      ed = E.replaceBeforeCursor(ed, c.start, c.candidates[0]!);
    } else if (c.candidates.length > 1) {
      const common = E.commonPrefix(c.candidates);
      const typed = ed.text.slice(c.start, ed.cursor);
      if (common.length > typed.length) ed = E.replaceBeforeCursor(ed, c.start, common);
      else completions = c.candidates;
    }
    update({ mode: 'prompt', ed, completions });
    drainQueue();
  }, [drainQueue, engine, update]);

  const exploreDone = useCallback(() => {
    void engine.exploreClose();
    release(true);
    update({ mode: 'prompt', explorer: null });
    drainQueue();
  }, [drainQueue, engine, release, update]);

  const handleKey = useCallback(
    (k: Key) => {
      const s = st.current;
      if (s.mode === 'exit' || s.mode === 'edit') return;
      if (s.mode === 'busy') {
        if (k.kind === 'ctrl' && k.letter === 'c') {
          engine.interrupt();
          queue.current = [];
        } else queue.current.push(k);
        return;
      }
      if (s.mode === 'explore') {
        if (!s.explorer) return;
        explorerKey(k, s.explorer, {
          engine,
          set: (x) => update({ explorer: x }),
          get: () => st.current.explorer,
          done: exploreDone,
          height: Math.max(5, (stdout.rows || 24) - 4),
        });
        return;
      }
      // the prompt
      let ed = s.ed;
      const set = (e: E.EditorState) => update({ ed: e, completions: null });
      if (k.kind === 'text') return set(E.insert(ed, k.text));
      if (k.kind === 'ctrl') {
        switch (k.letter) {
          case 'a':
            return set(E.home(ed));
          case 'e':
            return set(E.end(ed));
          case 'b':
            return set(E.left(ed));
          case 'f':
            return set(E.right(ed));
          case 'k':
            return set(E.killToEnd(ed));
          case 'u':
            return set(E.killToStart(ed));
          case 'w':
            return set(E.killWordBack(ed));
          case 'y':
            return set(E.yank(ed));
          case 't':
            return set(E.transpose(ed));
          case 'h':
            return set(E.backspace(ed));
          case 'l':
            return; // the scrollback stays
          case 'p':
            return historyMove(-1);
          case 'n':
            return historyMove(1);
          case 'c':
            print(echo(ed.text) + '^C');
            release(false);
            update({ ed: E.EMPTY, pending: [], completions: null, hist: E.newHistory(history.entries) });
            return;
          case 'd':
            if (ed.text === '') {
              print(echo(''));
              exit();
            } else set(E.deleteForward(ed));
            return;
          case 'j':
          case 'm':
            void submit();
            return;
        }
        return;
      }
      switch (k.name) {
        case 'enter':
          void submit();
          return;
        case 'tab':
          void complete();
          return;
        case 'backspace':
          return set(E.backspace(ed));
        case 'delete':
          return set(E.deleteForward(ed));
        case 'left':
          return set(E.left(ed));
        case 'right':
          return set(E.right(ed));
        case 'home':
          return set(E.home(ed));
        case 'end':
          return set(E.end(ed));
        case 'word-left':
          return set(E.wordLeft(ed));
        case 'word-right':
          return set(E.wordRight(ed));
        case 'delete-word-back':
          return set(E.deleteWordBack(ed));
        case 'delete-word-forward':
          return set(E.deleteWordForward(ed));
        case 'up':
          return historyMove(-1);
        case 'down':
          return historyMove(1);
        case 'escape':
          if (s.completions) update({ completions: null });
          return;
        default:
          ed = s.ed;
      }
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [complete, engine, exit, exploreDone, history, print, release, stdout, submit, update],
  );

  const historyMove = (dir: -1 | 1) => {
    const s = st.current;
    const r = dir < 0 ? E.historyPrev(s.hist, s.ed.text) : E.historyNext(s.hist);
    if (r) update({ hist: r.h, ed: E.withText(r.text, s.ed.killed), completions: null });
  };

  handleKeyRef.current = handleKey;

  // raw input from Ink's stdin handling
  const { internal_eventEmitter: emitter, setRawMode, isRawModeSupported } = useStdin();
  useEffect(() => {
    const onInput = (data: string) => {
      for (const k of parseKeys(data)) handleKeyRef.current(k);
    };
    emitter.on('input', onInput);
    const typed = props.takeover?.() ?? [];
    if (isRawModeSupported) setRawMode(true);
    for (const chunk of typed) onInput(chunk);
    return () => {
      emitter.removeListener('input', onInput);
      if (isRawModeSupported) setRawMode(false);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [emitter, setRawMode, isRawModeSupported]);

  const s = st.current;
  return (
    <>
      <Static items={items.current}>
        {(item) => <Text key={item.id}>{item.text}</Text>}
      </Static>
      {held.current !== null && s.mode !== 'edit' ? <Text>{held.current}</Text> : null}
      {s.mode === 'prompt' ? <PromptView prompt={promptText()} ed={s.ed} /> : null}
      {s.mode === 'prompt' && s.completions ? <Completions items={s.completions} width={width} /> : null}
      {s.mode === 'busy' && s.build ? <BuildView build={s.build} width={width} /> : null}
      {s.mode === 'busy' && !s.build && Date.now() - s.busySince >= 1000 ? (
        <Text dimColor>evaluating… {elapsed(s.busySince)} (Ctrl-C interrupts)</Text>
      ) : null}
      {s.mode === 'explore' && s.explorer ? <ExplorerView state={s.explorer} width={width} height={Math.max(5, (stdout.rows || 24) - 4)} /> : null}
    </>
  );
}

function PromptView({ prompt, ed }: { prompt: string; ed: E.EditorState }): React.ReactElement {
  const before = ed.text.slice(0, ed.cursor);
  const at = ed.text.slice(ed.cursor, ed.cursor + (ed.text.codePointAt(ed.cursor)! > 0xffff ? 2 : 1));
  const after = ed.text.slice(ed.cursor + at.length);
  const cont = (s: string) => s.split('\n').join('\n' + CONTINUATION);
  const cursorChar = at === '' || at === '\n' ? ' ' : at;
  return (
    <Text>
      {prompt}
      {cont(before)}
      <Text inverse>{cursorChar}</Text>
      {at === '\n' ? cont('\n') : ''}
      {cont(after)}
    </Text>
  );
}

const MAX_SHOWN = 200;

function Completions({ items, width }: { items: string[]; width: number }): React.ReactElement {
  const shown = items.slice(0, MAX_SHOWN);
  const w = Math.min(Math.max(...shown.map((x) => x.length)) + 2, width);
  const perLine = Math.max(1, Math.floor(width / w));
  const lines: string[] = [];
  for (let i = 0; i < shown.length; i += perLine) {
    lines.push(
      shown
        .slice(i, i + perLine)
        .map((x) => x.padEnd(w))
        .join('')
        .trimEnd(),
    );
  }
  if (items.length > MAX_SHOWN) lines.push(`… and ${items.length - MAX_SHOWN} more`);
  return <Text>{lines.join('\n')}</Text>;
}

function BuildView({ build, width }: { build: Build; width: number }): React.ReactElement {
  const rows: React.ReactElement[] = [];
  const total = build.planned || build.finished + build.running.size;
  let i = 0;
  for (const [drv, r] of build.running) {
    rows.push(
      <Text key={i++} wrap="truncate-end">
        <Text color="blue">building</Text> {drvName(drv)} <Text dimColor>({elapsed(r.since)})</Text>
        {r.last ? <Text dimColor>{'  ' + r.last.slice(0, width)}</Text> : null}
      </Text>,
    );
  }
  return (
    <Box flexDirection="column">
      <Text dimColor>
        [{build.finished}/{total} built{build.failed ? `, ${build.failed} failed` : ''}] (Ctrl-C interrupts)
      </Text>
      {rows}
    </Box>
  );
}

export type { XNode };

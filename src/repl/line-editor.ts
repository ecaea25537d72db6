// The line editor's state and its operations (pure functions, no I/O):
// cursor movement, Home/End, Ctrl-A/E/K/U/W/Y, words, history browsing.
// The text is a JS string; the cursor counts UTF-16 code units but never
// stops inside a surrogate pair.

export interface EditorState {
  text: string;
  cursor: number;
  /** Last killed text (Ctrl-K/U/W), for Ctrl-Y. */
  killed: string;
}

export const EMPTY: EditorState = { text: '', cursor: 0, killed: '' };

export function withText(text: string, killed = ''): EditorState {
  return { text, cursor: text.length, killed };
}

function prevBoundary(s: string, i: number): number {
  if (i <= 0) return 0;
  const c = s.charCodeAt(i - 1);
  return c >= 0xdc00 && c <= 0xdfff && i >= 2 ? i - 2 : i - 1;
}

function nextBoundary(s: string, i: number): number {
  if (i >= s.length) return s.length;
  const c = s.charCodeAt(i);
  return c >= 0xd800 && c <= 0xdbff && i + 1 < s.length ? i + 2 : i + 1;
}

const isWordChar = (c: string | undefined) => c !== undefined && /[\p{L}\p{N}_'-]/u.test(c);

function wordStart(s: string, i: number): number {
  while (i > 0 && !isWordChar(s[i - 1])) i--;
  while (i > 0 && isWordChar(s[i - 1])) i--;
  return i;
}

function wordEnd(s: string, i: number): number {
  while (i < s.length && !isWordChar(s[i])) i++;
  while (i < s.length && isWordChar(s[i])) i++;
  return i;
}

export function insert(e: EditorState, t: string): EditorState {
  return { ...e, text: e.text.slice(0, e.cursor) + t + e.text.slice(e.cursor), cursor: e.cursor + t.length };
}

export function backspace(e: EditorState): EditorState {
  if (e.cursor === 0) return e;
  const p = prevBoundary(e.text, e.cursor);
  return { ...e, text: e.text.slice(0, p) + e.text.slice(e.cursor), cursor: p };
}

export function deleteForward(e: EditorState): EditorState {
  if (e.cursor >= e.text.length) return e;
  const n = nextBoundary(e.text, e.cursor);
  return { ...e, text: e.text.slice(0, e.cursor) + e.text.slice(n) };
}

export const left = (e: EditorState): EditorState => ({ ...e, cursor: prevBoundary(e.text, e.cursor) });
export const right = (e: EditorState): EditorState => ({ ...e, cursor: nextBoundary(e.text, e.cursor) });
export const home = (e: EditorState): EditorState => ({ ...e, cursor: 0 });
export const end = (e: EditorState): EditorState => ({ ...e, cursor: e.text.length });
export const wordLeft = (e: EditorState): EditorState => ({ ...e, cursor: wordStart(e.text, e.cursor) });
export const wordRight = (e: EditorState): EditorState => ({ ...e, cursor: wordEnd(e.text, e.cursor) });

/** Ctrl-K: delete to the end of the line. */
export function killToEnd(e: EditorState): EditorState {
  if (e.cursor >= e.text.length) return e;
  return { text: e.text.slice(0, e.cursor), cursor: e.cursor, killed: e.text.slice(e.cursor) };
}

/** Ctrl-U: delete to the start of the line. */
export function killToStart(e: EditorState): EditorState {
  if (e.cursor === 0) return e;
  return { text: e.text.slice(e.cursor), cursor: 0, killed: e.text.slice(0, e.cursor) };
}

/** Ctrl-W: delete the word before the cursor (up to white space, as readline's unix-word-rubout). */
export function killWordBack(e: EditorState): EditorState {
  let i = e.cursor;
  while (i > 0 && /\s/.test(e.text[i - 1]!)) i--;
  while (i > 0 && !/\s/.test(e.text[i - 1]!)) i--;
  if (i === e.cursor) return e;
  return { text: e.text.slice(0, i) + e.text.slice(e.cursor), cursor: i, killed: e.text.slice(i, e.cursor) };
}

/** Alt-Backspace: delete the word before the cursor (letters and digits). */
export function deleteWordBack(e: EditorState): EditorState {
  const i = wordStart(e.text, e.cursor);
  if (i === e.cursor) return e;
  return { text: e.text.slice(0, i) + e.text.slice(e.cursor), cursor: i, killed: e.text.slice(i, e.cursor) };
}

/** Alt-D: delete the word after the cursor. */
export function deleteWordForward(e: EditorState): EditorState {
  const i = wordEnd(e.text, e.cursor);
  if (i === e.cursor) return e;
  return { text: e.text.slice(0, e.cursor) + e.text.slice(i), cursor: e.cursor, killed: e.text.slice(e.cursor, i) };
}

/** Ctrl-Y: insert the last killed text. */
export function yank(e: EditorState): EditorState {
  return e.killed ? insert(e, e.killed) : e;
}

/** Ctrl-T: swap the two characters before the cursor. */
export function transpose(e: EditorState): EditorState {
  const t = e.text;
  let c = e.cursor;
  if (t.length < 2 || c === 0) return e;
  if (c === t.length) c--;
  const a = t[c - 1]!;
  const b = t[c]!;
  return { ...e, text: t.slice(0, c - 1) + b + a + t.slice(c + 1), cursor: c + 1 };
}

/** Replaces text[start, cursor) with `s` (completion). */
export function replaceBeforeCursor(e: EditorState, start: number, s: string): EditorState {
  return { ...e, text: e.text.slice(0, start) + s + e.text.slice(e.cursor), cursor: start + s.length };
}

/** The longest common prefix of strings. */
export function commonPrefix(xs: string[]): string {
  if (xs.length === 0) return '';
  let p = xs[0]!;
  for (const x of xs) {
    let i = 0;
    while (i < p.length && i < x.length && p[i] === x[i]) i++;
    p = p.slice(0, i);
  }
  return p;
}

// ------------------------------------------------------------------ history

export interface HistoryState {
  entries: string[];
  /** Index into entries while browsing; entries.length = the line being edited. */
  index: number;
  /** The line being edited before browsing started. */
  draft: string;
}

export function newHistory(entries: string[]): HistoryState {
  return { entries, index: entries.length, draft: '' };
}

/** ↑: the previous entry (the current text is kept as the draft when browsing starts). */
export function historyPrev(h: HistoryState, current: string): { h: HistoryState; text: string } | null {
  if (h.index === 0) return null;
  const draft = h.index === h.entries.length ? current : h.draft;
  const index = h.index - 1;
  return { h: { ...h, index, draft }, text: h.entries[index]! };
}

/** ↓: the next entry, or back to the draft. */
export function historyNext(h: HistoryState): { h: HistoryState; text: string } | null {
  if (h.index >= h.entries.length) return null;
  const index = h.index + 1;
  return { h: { ...h, index }, text: index === h.entries.length ? h.draft : h.entries[index]! };
}

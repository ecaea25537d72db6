// Terminal input to key events. Ink's input parser hands over raw chunks
// (an escape sequence, or a run of other characters); this splits them into
// keys the line editor and the explorer understand.

export type KeyName =
  | 'enter'
  | 'tab'
  | 'backspace'
  | 'delete'
  | 'escape'
  | 'up'
  | 'down'
  | 'left'
  | 'right'
  | 'home'
  | 'end'
  | 'pageup'
  | 'pagedown'
  | 'word-left'
  | 'word-right'
  | 'delete-word-back'
  | 'delete-word-forward';

export type Key = { kind: 'text'; text: string } | { kind: 'key'; name: KeyName } | { kind: 'ctrl'; letter: string };

const SEQUENCES: Record<string, KeyName> = {
  '\x1b[A': 'up',
  '\x1b[B': 'down',
  '\x1b[C': 'right',
  '\x1b[D': 'left',
  '\x1bOA': 'up',
  '\x1bOB': 'down',
  '\x1bOC': 'right',
  '\x1bOD': 'left',
  '\x1b[H': 'home',
  '\x1b[F': 'end',
  '\x1bOH': 'home',
  '\x1bOF': 'end',
  '\x1b[1~': 'home',
  '\x1b[4~': 'end',
  '\x1b[7~': 'home',
  '\x1b[8~': 'end',
  '\x1b[3~': 'delete',
  '\x1b[5~': 'pageup',
  '\x1b[6~': 'pagedown',
  '\x1b[1;5C': 'word-right',
  '\x1b[1;5D': 'word-left',
  '\x1b[1;3C': 'word-right',
  '\x1b[1;3D': 'word-left',
  '\x1bf': 'word-right',
  '\x1bb': 'word-left',
  '\x1b\x7f': 'delete-word-back',
  '\x1b\b': 'delete-word-back',
  '\x1bd': 'delete-word-forward',
  '\x1b': 'escape',
  '\x1b\x1b': 'escape',
};

/** The keys in one chunk of terminal input. */
export function parseKeys(chunk: string): Key[] {
  if (chunk.startsWith('\x1b')) {
    const name = SEQUENCES[chunk];
    if (name) return [{ kind: 'key', name }];
    // an unknown escape sequence: ignored (never inserted as text)
    if (/^\x1b[[O]/.test(chunk) || chunk.length <= 2) return [];
    return parseKeys(chunk.slice(1));
  }
  const keys: Key[] = [];
  let text = '';
  const flush = () => {
    if (text) keys.push({ kind: 'text', text });
    text = '';
  };
  for (const ch of chunk) {
    const c = ch.codePointAt(0)!;
    if (c >= 0x20 && c !== 0x7f) {
      text += ch;
      continue;
    }
    flush();
    if (ch === '\r' || ch === '\n') keys.push({ kind: 'key', name: 'enter' });
    else if (ch === '\t') keys.push({ kind: 'key', name: 'tab' });
    else if (ch === '\x7f' || ch === '\b') keys.push({ kind: 'key', name: 'backspace' });
    else if (c >= 1 && c <= 26) keys.push({ kind: 'ctrl', letter: String.fromCharCode(c + 96) });
  }
  flush();
  return keys;
}

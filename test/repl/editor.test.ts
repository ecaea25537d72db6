// The pieces of the line editor: key parsing, editing operations, history.

import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { History, historyFile } from '../../src/repl/history.js';
import { parseKeys } from '../../src/repl/keys.js';
import * as E from '../../src/repl/line-editor.js';
import { tempEnv, type TempEnv } from './helpers.js';

describe('parseKeys', () => {
  it('splits terminal input into keys', () => {
    expect(parseKeys('ab c')).toEqual([{ kind: 'text', text: 'ab c' }]);
    expect(parseKeys('x\ry\t\x7f\x01')).toEqual([
      { kind: 'text', text: 'x' },
      { kind: 'key', name: 'enter' },
      { kind: 'text', text: 'y' },
      { kind: 'key', name: 'tab' },
      { kind: 'key', name: 'backspace' },
      { kind: 'ctrl', letter: 'a' },
    ]);
    expect(parseKeys('\x1b[A')).toEqual([{ kind: 'key', name: 'up' }]);
    expect(parseKeys('\x1bOH')).toEqual([{ kind: 'key', name: 'home' }]);
    expect(parseKeys('\x1b[4~')).toEqual([{ kind: 'key', name: 'end' }]);
    expect(parseKeys('\x1b[3~')).toEqual([{ kind: 'key', name: 'delete' }]);
    expect(parseKeys('\x1b[1;5D')).toEqual([{ kind: 'key', name: 'word-left' }]);
    expect(parseKeys('\x1b')).toEqual([{ kind: 'key', name: 'escape' }]);
    expect(parseKeys('\x1b[99;9Z')).toEqual([]);
    expect(parseKeys('é✓')).toEqual([{ kind: 'text', text: 'é✓' }]);
  });
});

describe('line editing', () => {
  const at = (text: string, cursor: number): E.EditorState => ({ text, cursor, killed: '' });
  it('moves and deletes', () => {
    expect(E.insert(at('ac', 1), 'b')).toEqual(at('abc', 2));
    expect(E.backspace(at('abc', 2))).toEqual(at('ac', 1));
    expect(E.backspace(at('abc', 0))).toEqual(at('abc', 0));
    expect(E.deleteForward(at('abc', 0))).toEqual(at('bc', 0));
    expect(E.left(at('a😀', 3)).cursor).toBe(1);
    expect(E.backspace(at('a😀', 3))).toEqual(at('a', 1));
    expect(E.home(at('abc', 2)).cursor).toBe(0);
    expect(E.end(at('abc', 0)).cursor).toBe(3);
    expect(E.wordLeft(at('foo bar.baz', 11)).cursor).toBe(8);
    expect(E.wordRight(at('foo bar', 0)).cursor).toBe(3);
  });
  it('kills and yanks', () => {
    expect(E.killToEnd(at('abc def', 3))).toEqual({ text: 'abc', cursor: 3, killed: ' def' });
    expect(E.killToStart(at('abc def', 4))).toEqual({ text: 'def', cursor: 0, killed: 'abc ' });
    expect(E.killWordBack(at('map (x: x.y ', 12))).toEqual({ text: 'map (x: ', cursor: 8, killed: 'x.y ' });
    expect(E.yank(E.killToStart(at('abc def', 4)))).toEqual({ text: 'abc def', cursor: 4, killed: 'abc ' });
    expect(E.transpose(at('ab', 2)).text).toBe('ba');
    expect(E.commonPrefix(['builtins.map', 'builtins.mapAttrs', 'builtins.match'])).toBe('builtins.ma');
  });
  it('browses the history, keeping the line being edited', () => {
    let h = E.newHistory(['one', 'two']);
    let r = E.historyPrev(h, 'draft')!;
    expect(r.text).toBe('two');
    r = E.historyPrev(r.h, r.text)!;
    expect(r.text).toBe('one');
    expect(E.historyPrev(r.h, r.text)).toBeNull();
    h = r.h;
    r = E.historyNext(h)!;
    expect(r.text).toBe('two');
    r = E.historyNext(r.h)!;
    expect(r.text).toBe('draft');
    expect(E.historyNext(r.h)).toBeNull();
  });
});

describe('history file', () => {
  let t: TempEnv;
  beforeEach(() => (t = tempEnv()));
  afterEach(() => t.cleanup());

  it('lives in $XDG_DATA_HOME/tsnix, else ~/.local/share/tsnix', () => {
    expect(historyFile({ XDG_DATA_HOME: '/x', HOME: '/h' })).toBe('/x/tsnix/repl-history');
    expect(historyFile({ HOME: '/h' })).toBe('/h/.local/share/tsnix/repl-history');
  });

  it('keeps multi-line entries and backslashes, skips repeats and empty lines', () => {
    const f = path.join(t.dir, 'h', 'repl-history');
    const h = new History(f);
    h.add('a\nb');
    h.add('"\\n"');
    h.add('"\\n"');
    h.add('  ');
    expect(fs.readFileSync(f, 'utf8')).toBe('a\\nb\n"\\\\n"\n');
    expect(new History(f).entries).toEqual(['a\nb', '"\\n"']);
  });
});

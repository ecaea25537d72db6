// How a build run shows itself on stderr: plain lines when stderr is not a
// terminal (CppNix's nix-build output: the plan, `building '…'...`, the
// builders' output, errors), and on a terminal the same lines scrolling
// above a live status block (running builds with elapsed time and their
// last log line, and a done/running/remaining count).

import type { BuildEvents } from '../store/build/api.js';
import { writeErr } from './util.js';

function nameOf(drvPath: string): string {
  return drvPath.slice(drvPath.lastIndexOf('/') + 34).replace(/\.drv$/, '');
}

export interface Progress {
  events: BuildEvents;
  /** Remove the status block (before the final output). */
  finish(): void;
}

export function makeProgress(opts: { quiet?: boolean; live?: boolean; stats?: boolean } = {}): Progress {
  const live = opts.live ?? (process.stderr.isTTY === true && !process.env.TSNIX_NO_PROGRESS);
  const running = new Map<string, { start: number; last: string }>();
  let total = 0;
  let done = 0;
  let statusLines = 0;
  let timer: NodeJS.Timeout | undefined;
  const width = (): number => Math.max(20, (process.stderr.columns || 80) - 1);

  const clear = (): void => {
    if (statusLines > 0) {
      writeErr(`\r\x1b[${statusLines}A\x1b[J`);
      statusLines = 0;
    }
  };
  const draw = (): void => {
    if (!live) return;
    clear();
    if (total === 0) return;
    const now = Date.now();
    const lines = [`[${done}/${total} built, ${running.size} running, ${total - done - running.size} waiting]`];
    for (const [drv, r] of running) {
      const secs = Math.floor((now - r.start) / 1000);
      lines.push(`  ${nameOf(drv)} (${secs}s)${r.last ? ': ' + r.last : ''}`);
    }
    const w = width();
    writeErr(lines.map((l) => (l.length > w ? l.slice(0, w - 3) + '...' : l)).join('\n') + '\n');
    statusLines = lines.length;
  };
  /** Print lines above the status block. */
  const print = (text: string): void => {
    clear();
    writeErr(text);
    draw();
  };

  const events: BuildEvents = {
    plan(drvs) {
      total = drvs.length;
      if (live && !timer) {
        timer = setInterval(draw, 1000);
        timer.unref();
      }
    },
    started(drv) {
      running.set(drv, { start: Date.now(), last: '' });
      draw();
    },
    log(drv, line) {
      const r = running.get(drv);
      if (r) r.last = line.replace(/[\x00-\x1f\x7f]/g, ' ').trim() || r.last;
      if (!opts.quiet) print(line + '\n');
    },
    finished(drv) {
      if (running.delete(drv)) done++;
      draw();
    },
    message(text) {
      print(text);
    },
    stats(st) {
      if (!opts.stats) return;
      const sec = (ms: number): string => (ms / 1000).toFixed(3);
      const cap = st.wallMs * st.maxJobs || 1;
      print(
        `built ${st.built} derivations in ${sec(st.wallMs)} s with ${st.maxJobs} slots: busy ${((100 * st.busyMs) / cap).toFixed(1)}%, ` +
          `idle with a ready build ${sec(st.schedulerIdleMs)} s, idle with nothing ready ${sec(st.graphIdleMs)} s\n`,
      );
    },
  };
  return {
    events,
    finish() {
      if (timer) clearInterval(timer);
      timer = undefined;
      clear();
    },
  };
}

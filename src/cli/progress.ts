/**
 * Progress of the CLI's long commands (`index`, `movie`): a cli-progress bar on a terminal; otherwise
 * (a log, a pipe) a plain line every 50 steps and at the end, so logs stay readable.
 */
import { SingleBar } from 'cli-progress';

export interface Progress {
  /** `done` of `total` steps, the last one about `name`. */
  update(done: number, total: number, name: string): void;
  stop(): void;
}

/** A progress report on `out` for a phase named `phase` ('' for none). */
export function progress(out: NodeJS.WriteStream, phase = ''): Progress {
  const label = phase ? `${phase} ` : '';
  if (!out.isTTY) {
    return {
      update(done, total, name) {
        if (done !== total && done % 50 !== 0) return;
        const width = 30;
        const filled = total === 0 ? width : Math.round((done / total) * width);
        out.write(`${label}[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${name.slice(-40)}\n`);
      },
      stop() {},
    };
  }
  const bar = new SingleBar({ format: `${label}[{bar}] {value}/{total} {name}`, barCompleteChar: '#', barIncompleteChar: '.', barsize: 30, stream: out, hideCursor: false });
  let started = false;
  return {
    update(done, total, name) {
      if (!started) {
        bar.start(total, 0, { name: '' });
        started = true;
      }
      bar.setTotal(total);
      bar.update(done, { name: name.slice(-40) });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

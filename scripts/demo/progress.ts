import { Presets, SingleBar } from 'cli-progress';

/** Progress of one phase of the demo, shown on stderr. */
export interface Progress {
  update(done: number, failed: number): void;
  /** Draws the final state and releases the terminal line. */
  stop(): void;
}

/** Milliseconds between status lines when stderr is not a terminal (CI logs). */
const PLAIN_LINE_INTERVAL_MS = 10_000;

/**
 * Starts a progress display: a redrawn bar on a terminal, or a plain status
 * line every 10 seconds otherwise, so CI logs stay readable.
 */
export function startProgress(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  return stream.isTTY ? new BarProgress(label, total, stream) : new LineProgress(label, total, stream);
}

class BarProgress implements Progress {
  private readonly bar: SingleBar;

  constructor(label: string, total: number, stream: NodeJS.WriteStream) {
    this.bar = new SingleBar(
      {
        format: `${label} [{bar}] {value}/{total} | {duration_formatted} elapsed | failed {failed}`,
        stream,
        hideCursor: true,
        fps: 5,
      },
      Presets.shades_classic,
    );
    this.bar.start(total, 0, { failed: 0 });
  }

  update(done: number, failed: number): void {
    this.bar.update(done, { failed });
  }

  stop(): void {
    this.bar.stop();
  }
}

class LineProgress implements Progress {
  private readonly startedAt = Date.now();
  private readonly timer: NodeJS.Timeout;
  private done = 0;
  private failed = 0;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream,
  ) {
    this.write();
    this.timer = setInterval(() => this.write(), PLAIN_LINE_INTERVAL_MS);
    // The status line must not keep the process alive on its own.
    this.timer.unref();
  }

  update(done: number, failed: number): void {
    this.done = done;
    this.failed = failed;
  }

  stop(): void {
    clearInterval(this.timer);
    this.write();
  }

  private write(): void {
    const elapsedSeconds = Math.round((Date.now() - this.startedAt) / 1000);
    this.stream.write(`${this.label}: ${this.done}/${this.total} finished, ${this.failed} failed, ${elapsedSeconds} s elapsed\n`);
  }
}

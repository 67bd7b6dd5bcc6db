/** The subset of a writable stream the progress display needs (process.stderr fits). */
export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--";
  const s = Math.round(seconds);
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  const pad = (n: number) => String(n).padStart(2, "0");
  return h > 0 ? `${h}:${pad(m % 60)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}

export function formatRate(perSec: number): string {
  if (!Number.isFinite(perSec)) return "-";
  return perSec >= 10_000 ? `${(perSec / 1000).toFixed(1)}k` : perSec.toFixed(0);
}

export interface ProgressState {
  step: number;
  loss: number | null;
  samplesPerSec: number;
  /** Latest test accuracy, shown once known. */
  accuracy?: number | null;
}

/**
 * A one-line progress bar: "bn   [#####.....]  500/1000  loss 0.312  acc 91.2%  3.4k samples/s  ETA 00:12".
 * On a terminal it redraws in place with \r at most 10 times a second; elsewhere (CI logs, pipes)
 * it prints a plain line at every 10 % so logs stay short.
 */
export class ProgressBar {
  private lastDraw = 0;
  private lastDecile = -1;
  /** Time and step of the first update: the rate is measured from there, not from setup work. */
  private first: { t: number; step: number } | null = null;
  private readonly tty: boolean;
  private lastLine = "";

  constructor(
    private readonly stream: ProgressStream,
    private readonly label: string,
    private readonly total: number,
    opts: { tty?: boolean } = {},
  ) {
    this.tty = opts.tty ?? Boolean(stream.isTTY);
  }

  /** The line for state `s`; the bar shrinks (down to 8 cells) to fit `columns`. */
  render(s: ProgressState, columns = 120): string {
    const frac = this.total > 0 ? Math.min(1, s.step / this.total) : 1;
    const f = this.first;
    const done = f ? s.step - f.step : 0;
    const eta =
      f && done > 0 ? ((performance.now() - f.t) / 1000 / done) * (this.total - s.step) : Number.NaN;
    const digits = String(this.total).length;
    const parts = (compact: boolean) =>
      [
        `${String(s.step).padStart(digits)}/${this.total}`,
        `loss ${s.loss === null || !Number.isFinite(s.loss) ? "  -  " : s.loss.toFixed(3)}`,
        s.accuracy != null ? `acc ${(s.accuracy * 100).toFixed(1)}%` : "",
        `${formatRate(s.samplesPerSec)}${compact ? "/s" : " samples/s"}`,
        `ETA ${formatDuration(eta)}`,
      ]
        .filter(Boolean)
        .join(compact ? " " : "  ");
    // A narrow terminal (80 columns) gets single spaces and "/s" rather than a wrapped line.
    let rest = parts(false);
    if (this.label.length + rest.length + 13 > columns) rest = parts(true);
    const width = Math.max(8, Math.min(24, columns - 1 - this.label.length - rest.length - 4));
    const filled = Math.round(frac * width);
    return `${this.label} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${rest}`;
  }

  update(s: ProgressState): void {
    const t = performance.now();
    this.first ??= { t, step: s.step };
    if (this.tty) {
      if (t - this.lastDraw < 100 && s.step < this.total) return;
      this.lastDraw = t;
      // A pseudo-terminal without a size reports 0 columns.
      const cols = this.stream.columns || 120;
      const line = this.render(s, cols).slice(0, cols - 1);
      // Pad with spaces so a shorter line fully covers the previous one.
      this.stream.write(`\r${line.padEnd(this.lastLine.length)}`);
      this.lastLine = line;
      return;
    }
    const decile = Math.floor((10 * s.step) / this.total);
    // The last line waits for done(): the final evaluation comes after the last step.
    if (decile > this.lastDecile && s.step < this.total) {
      this.lastDecile = decile;
      this.stream.write(`${this.render(s)}\n`);
    }
  }

  /** Ends the bar's line (on a terminal) so the next output starts on a fresh line. */
  done(s: ProgressState): void {
    if (this.tty) {
      this.lastDraw = 0;
      this.update(s);
      this.stream.write("\n");
    } else if (this.lastDecile < 10) {
      this.lastDecile = 10;
      this.stream.write(`${this.render(s)}\n`);
    }
  }
}

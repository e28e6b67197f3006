import type { PipelineEvent } from '@condense/core';

/** Progress output: a redrawn status line on a TTY, plain lines otherwise (logs, CI). */
export function progressPrinter(stream: NodeJS.WriteStream = process.stderr, quiet = false): (e: PipelineEvent) => void {
  const tty = Boolean(stream.isTTY) && !process.env.CI;
  let open = false;
  const line = (text: string) => {
    if (quiet) return;
    if (tty) {
      stream.write(`\r\x1b[2K${text}`);
      open = true;
    } else stream.write(`${text}\n`);
  };
  const done = (text: string) => {
    if (quiet) return;
    if (tty && open) stream.write('\r\x1b[2K');
    open = false;
    stream.write(`${text}\n`);
  };
  return (e) => {
    switch (e.type) {
      case 'stageStart':
        return line(`[${e.index}/${e.total}] ${e.name} ...`);
      case 'epoch':
        return (tty ? line : done)(
          `[${e.index}] ${bar(e.epoch / e.epochs)} epoch ${e.epoch}/${e.epochs}  loss ${e.loss.toFixed(4)}${e.accuracy === undefined || Number.isNaN(e.accuracy) ? '' : `  acc ${(e.accuracy * 100).toFixed(2)}%`}${e.samplesPerSec ? `  ${Math.round(e.samplesPerSec)} samples/s` : ''}`,
        );
      case 'progress':
        if (tty || e.done === e.total) line(`[${e.index}] ${bar(e.done / e.total)} ${e.label} ${e.done}/${e.total}`);
        return;
      case 'log':
        return done(`[${e.index}] ${e.message}`);
      case 'stageEnd': {
        const s = e.snapshot;
        const acc = s.accuracy === undefined ? '' : `, accuracy ${(s.accuracy * 100).toFixed(2)}%`;
        return done(
          `[${e.index}] ${e.name} done in ${(s.wallMs / 1000).toFixed(1)} s: ${s.nonzero.toLocaleString('en-US')} non-zero, ${fmtBytes(s.bytes)}${acc}`,
        );
      }
      default:
        return;
    }
  };
}

export function bar(fraction: number, width = 20): string {
  const n = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}]`;
}

export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 ** 2).toFixed(2)} MiB`;
}

import type { Io, Output } from '../output.js';

/**
 * Progress over many tenants: on a terminal, one bar redrawn in place (done, failed, left), at most ten times
 * a second, with failures printed above it; elsewhere, one plain line per tenant as it finishes.
 */
export interface TenantProgress {
  done(tenant: string, line: string, failed: boolean): void;
  end(): void;
}

const WIDTH = 30;

export function tenantProgress(io: Io, output: Output, total: number): TenantProgress {
  const bar = io.stderr.isTTY === true && !output.json && total > 0;
  let done = 0;
  let failed = 0;
  let drawnAt = 0;
  const draw = (force: boolean) => {
    const now = performance.now();
    if (!force && now - drawnAt < 100) return;
    drawnAt = now;
    const filled = Math.round((WIDTH * done) / total);
    const text =
      `[${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${done}/${total} done, ` +
      `${failed > 0 ? output.color.red(`${failed} failed`) : '0 failed'}, ${total - done} left`;
    io.stderr.write(`\r\u001b[2K${text}`);
  };
  return {
    done(_tenant, line, isFailure) {
      done += 1;
      if (isFailure) failed += 1;
      if (!bar) {
        output.progress(line);
        return;
      }
      if (isFailure) io.stderr.write(`\r\u001b[2K${line}\n`);
      draw(isFailure || done === total);
    },
    end() {
      if (bar) io.stderr.write('\n');
    },
  };
}

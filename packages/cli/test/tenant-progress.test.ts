import { describe, expect, it } from 'vitest';
import { tenantProgress } from '../src/commands/tenant-progress.js';
import { createOutput, type Io } from '../src/output.js';

function io(isTTY: boolean): Io & { err: string } {
  const sink = {
    err: '',
    stdout: { isTTY, write: () => true },
    stderr: {
      isTTY,
      write(chunk: string) {
        sink.err += chunk;
        return true;
      },
    },
    env: { NO_COLOR: '1' },
    cwd: '/',
  };
  return sink as unknown as Io & { err: string };
}

describe('progress over tenants', () => {
  it('on a terminal: one bar redrawn in place with done, failed and left, failures printed above it', () => {
    const terminal = io(true);
    const progress = tenantProgress(terminal, createOutput(terminal, false), 3);
    progress.done('a', '✓ a: 1 applied', false);
    progress.done('b', '✗ b: boom', true);
    progress.done('c', '✓ c: 1 applied', false);
    progress.end();
    expect(terminal.err).toContain('\r\u001b[2K✗ b: boom\n');
    expect(terminal.err).toContain('[####################----------] 2/3 done, 1 failed, 1 left');
    expect(terminal.err).toMatch(/\[#{30}\] 3\/3 done, 1 failed, 0 left\n$/);
    // Successes are not printed one by one on a terminal: the bar says it.
    expect(terminal.err).not.toContain('✓ a');
  });

  it('elsewhere: one plain line per tenant, no bar and no control characters', () => {
    const pipe = io(false);
    const progress = tenantProgress(pipe, createOutput(pipe, false), 2);
    progress.done('a', '✓ a: up to date', false);
    progress.done('b', '✗ b: boom', true);
    progress.end();
    expect(pipe.err).toBe('✓ a: up to date\n✗ b: boom\n');
  });
});

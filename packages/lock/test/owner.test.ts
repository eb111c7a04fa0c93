import { afterEach, describe, expect, it, vi } from 'vitest';
import { deadOwnerPid, processOwner } from '../src/owner.js';

describe('the default lease owner', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('names this host and process', () => {
    expect(processOwner()).toMatch(new RegExp(`:${process.pid}(@\\d+)?$`));
  });

  it("names a Worker's isolate, the same for all of its leases, never judged dead", () => {
    // workerd answers `localhost` and pid 1 in every isolate; its navigator says it is a Worker.
    vi.stubGlobal('navigator', { userAgent: 'Cloudflare-Workers' });
    const owner = processOwner();
    expect(owner).toMatch(/^worker-isolate-[0-9a-f]{8}$/);
    expect(processOwner()).toBe(owner);
    expect(deadOwnerPid(`${owner}:0123abcd`)).toBeUndefined();
  });
});

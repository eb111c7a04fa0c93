import { describe, expect, it } from 'vitest';
import { DRIVERS, ENGINES as REGISTERED } from '../../src/engines/registry.js';
import { ENGINES } from '../support/engines.js';

// The suites that loop over the test engine matrix only cover what it holds: an engine added to the
// registry must be added there too, and the matrix must not claim more (or less) than the driver does.

describe('the engine registry and the test engine matrix', () => {
  it('the matrix holds every registered engine, each way to reach it once (libSQL: a file, a server)', () => {
    expect([...new Set(ENGINES.map((engine) => engine.name))].sort()).toEqual([...REGISTERED].sort());
    const labels = ENGINES.map((engine) => engine.label);
    expect(new Set(labels).size).toBe(labels.length);
  });

  it.each(ENGINES)('the matrix says of $name what its driver says', (engine) => {
    const driver = DRIVERS[engine.name].capabilities;
    const { system, transactionalDdl, sessionLocks, processes, isolates = false } = engine.capabilities;
    // Instances other than this process share it: separate processes, or (D1) Workers' isolates.
    expect({ system, transactionalDdl, sessionLocks, shared: processes || isolates }).toEqual({
      system: driver.system,
      transactionalDdl: driver.transactionalDdl,
      sessionLocks: driver.sessionLocks,
      shared: !driver.embedded,
    });
    // The real-process scenarios need to know how, where processes can share the database.
    expect(engine.processes !== undefined).toBe(processes);
    // Its locks: the session lock where there is one, and the lease (an embedded engine's one mutex).
    const strategies = engine.locks.map((lock) => lock.strategy);
    if (driver.embedded) expect(strategies).toHaveLength(1);
    else expect(strategies).toEqual(sessionLocks ? ['advisory', 'lease'] : ['lease']);
  });
});

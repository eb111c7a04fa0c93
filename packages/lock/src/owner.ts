import { randomUUID } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

// Who holds a lease, as the lease lock writes it by default: `host:pid@pidns:random`. The host and the pid
// name the process for people; the pid namespace (Linux's /proc/self/ns/pid) tells two containers that share
// a hostname but not their pids apart, so a process is only ever judged dead by a process that sees the same
// pids. The random part tells two acquisitions by one process apart.

/** This process's pid namespace (an inode number), or undefined where the system has none to read. */
function pidNamespace(): string | undefined {
  try {
    return /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1];
  } catch {
    return undefined;
  }
}

const NAMESPACE = pidNamespace();

/**
 * A Cloudflare Worker's isolate: workerd answers `localhost` and pid 1 in every one of them, which would name
 * nothing. Its id is random, made on first use (a Worker may not make random values while its module loads).
 */
let isolate: string | undefined;

function inWorker(): boolean {
  return (globalThis as { navigator?: { userAgent?: unknown } }).navigator?.userAgent === 'Cloudflare-Workers';
}

/**
 * The owner prefix of this process: `host:pid`, with `@pidns` where the system has pid namespaces; in a
 * Cloudflare Worker, `worker-isolate-<random>`, one per isolate (never judged dead: its lease lapses).
 */
export function processOwner(): string {
  if (inWorker()) {
    isolate ??= `worker-isolate-${randomUUID().slice(0, 8)}`;
    return isolate;
  }
  return `${hostname()}:${process.pid}${NAMESPACE === undefined ? '' : `@${NAMESPACE}`}`;
}

/** `host:pid[@pidns]:random8` (the default owner); older owners have no `@pidns`. */
const OWNER = /^([^:]+):(\d+)(?:@(\d+))?:[0-9a-f]{8}$/;

/**
 * The pid of a lease owner that is dead for certain: the owner names this host, the same pid namespace as
 * this process (when both say), and a pid that no longer exists. Undefined when the owner may be alive or
 * its string does not tell (a custom owner prefix, another host, another pid namespace): its lease then
 * lapses at its expiry instead. A reused pid reads as alive: the safe side.
 */
export function deadOwnerPid(owner: string): number | undefined {
  const match = OWNER.exec(owner);
  if (!match || match[1] !== hostname()) return undefined;
  const namespace = match[3];
  if (namespace !== undefined && NAMESPACE !== undefined && namespace !== NAMESPACE) return undefined;
  const pid = Number(match[2]);
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
    return undefined;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'ESRCH' ? pid : undefined;
  }
}

import { connect } from 'node:net';

/** How long a server may take to greet before it is taken for something that is not MySQL. */
export const GREETING_TIMEOUT_MS = 3_000;

/**
 * Makes sure that what listens at the URL's host and port speaks MySQL's protocol: a MySQL or MariaDB server
 * greets first (a handshake packet, protocol version 10, or an error packet such as "Too many connections"),
 * at once. A server that says nothing (PostgreSQL waits for its client to speak first) or says something else
 * is an error that says so, instead of a connect timeout and an exception thrown by the driver later.
 * Nothing is checked for a socket path, and a refused connection is left to the driver to report.
 */
export async function expectMysqlGreeting(url: string, timeoutMs = GREETING_TIMEOUT_MS): Promise<void> {
  let host: string;
  let port: number;
  try {
    const parsed = new URL(url.replace(/^mariadb:/i, 'mysql:'));
    if (parsed.searchParams.has('socketPath')) return;
    host = parsed.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost';
    port = Number(parsed.port || 3306);
  } catch {
    return; // the driver says what is wrong with the URL
  }
  const verdict = await new Promise<'mysql' | 'silent' | 'other' | 'unreachable'>((resolve) => {
    const socket = connect({ host, port });
    const done = (result: 'mysql' | 'silent' | 'other' | 'unreachable') => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done('silent'), timeoutMs);
    timer.unref();
    socket.once('error', () => done('unreachable'));
    socket.once('data', (chunk: Buffer) => {
      // A packet: 3 bytes of length, 1 of sequence, then the payload: 0x0a (protocol 10) or 0xff (an error).
      const first = chunk[4];
      done(chunk.length >= 5 && (first === 0x0a || first === 0xff) ? 'mysql' : 'other');
    });
  });
  if (verdict === 'silent' || verdict === 'other') {
    const what =
      verdict === 'silent'
        ? `accepted the connection but did not greet within ${timeoutMs} ms, as a MySQL or MariaDB server does at once`
        : 'answered with something that is not the MySQL protocol';
    throw Object.assign(
      new Error(
        `The server at ${host}:${port} ${what}: it is not a MySQL or MariaDB server (PostgreSQL listens on 5432 and ` +
          'waits silently). Check the host and port of the mysql:// URL, or use a postgres:// URL for PostgreSQL',
      ),
      { code: 'MIG_NOT_MYSQL' },
    );
  }
}

import { describe, expect, it } from 'vitest';
import { readNeonUrl } from '../../../src/engines/neon/index.js';
import { describeConnection, describeWhere, parseDatabaseUrl } from '../../../src/index.js';

// The `neon://` form: a PostgreSQL URL through Neon's serverless driver over a WebSocket.

describe('neon:// URLs', () => {
  it('are the Neon engine, read as PostgreSQL URLs', () => {
    const url = 'neon://app:s3cret@ep-cool-name-123.eu-central-1.aws.neon.tech/shop?sslmode=require';
    expect(parseDatabaseUrl(url)).toMatchObject({ engine: 'neon', url });
    expect(readNeonUrl(url)).toEqual({
      connectionString: 'postgres://app:s3cret@ep-cool-name-123.eu-central-1.aws.neon.tech/shop?sslmode=require',
      socket: {},
    });
  });

  it('take the WebSocket parameters out, in any case, and leave the rest', () => {
    const read = readNeonUrl(
      'neon://postgres@127.0.0.1:5432/db?WSPROXY=127.0.0.1%3A9000%2Fv1&useSecureWebSocket=false&pipelineconnect=false&application_name=x',
    );
    expect(read).toEqual({
      connectionString: 'postgres://postgres@127.0.0.1:5432/db?application_name=x',
      socket: { wsProxy: '127.0.0.1:9000/v1', useSecureWebSocket: false, pipelineConnect: false },
    });
    expect(readNeonUrl('neon://u@h/d?wsProxy=wss://proxy.example.com/v1').socket).toEqual({
      wsProxy: 'proxy.example.com/v1',
    });
    expect(readNeonUrl('neon://u@h/d?pipelineConnect=password').socket).toEqual({ pipelineConnect: 'password' });
  });

  it('are described without the user or password', () => {
    const url = 'neon://app:s3cret@ep-x.aws.neon.tech/shop';
    expect(describeConnection(url)).toEqual({
      system: 'postgresql',
      namespace: 'shop',
      server: 'ep-x.aws.neon.tech:5432',
    });
    expect(describeWhere(url)).toBe('postgresql ep-x.aws.neon.tech:5432/shop (Neon, WebSocket)');
    expect(describeWhere(url)).not.toContain('s3cret');
  });

  it.each([
    ['neon://app@host', /needs a host and a database/],
    ['neon://app@host/', /needs a host and a database/],
    ['neon://app:pa#ss@host/db', /percent-encode/],
    ['neon://app@host/db?useSecureWebSocket=maybe', /useSecureWebSocket=maybe is neither true nor false/],
  ])('refuse %s, saying what to write', (url, message) => {
    expect(() => parseDatabaseUrl(url)).toThrow(message);
  });
});

import { describe, expect, it } from 'vitest';
import { redactUrl } from '../src/index.js';

describe('redactUrl', () => {
  // [input, expected output, secrets that must not appear in it]
  const cases: [string, string, string[]][] = [
    ['postgres://app:hunter2@localhost:5432/app', 'postgres://app:***@localhost:5432/app', ['hunter2']],
    ['postgresql://app:hunter2@db.internal/app', 'postgresql://app:***@db.internal/app', ['hunter2']],
    ['postgres://:hunter2@localhost/app', 'postgres://:***@localhost/app', ['hunter2']],
    ['postgres://app@localhost/app', 'postgres://app@localhost/app', []],
    ['postgres://localhost/app', 'postgres://localhost/app', []],
    [
      'postgres://localhost/app?password=hunter2&sslmode=require',
      'postgres://localhost/app?password=***&sslmode=require',
      ['hunter2'],
    ],
    [
      'postgres://app:hunter2@localhost/app?sslmode=verify-full&sslpassword=keypass',
      'postgres://app:***@localhost/app?sslmode=verify-full&sslpassword=***',
      ['hunter2', 'keypass'],
    ],
    [
      'postgres://localhost/app?token=t0k&api_key=k3y&apiKey=k4y&client_secret=s3c&application_name=api',
      'postgres://localhost/app?token=***&api_key=***&apiKey=***&client_secret=***&application_name=api',
      ['t0k', 'k3y', 'k4y', 's3c'],
    ],
    ['postgres://localhost/app?PASSWORD=hunter2', 'postgres://localhost/app?PASSWORD=***', ['hunter2']],
    ['postgres://localhost/app?pass%77ord=hunter2', 'postgres://localhost/app?password=***', ['hunter2']],
    // percent-encoded password: neither the encoded nor the decoded form survives
    [
      'postgres://app:p%40ss%3Aw0rd@localhost/app',
      'postgres://app:***@localhost/app',
      ['p%40ss%3Aw0rd', 'p@ss:w0rd', 'w0rd'],
    ],
    // an unencoded "@" in the password: the URL parser takes the last "@"
    ['postgres://app:p@ssword@localhost/app', 'postgres://app:***@localhost/app', ['ssword']],
    // IPv6 hosts
    ['postgres://app:hunter2@[::1]:5432/app', 'postgres://app:***@[::1]:5432/app', ['hunter2']],
    ['postgres://app:hunter2@[2001:db8::1]/app', 'postgres://app:***@[2001:db8::1]/app', ['hunter2']],
    // unparsable: an unencoded "/" or "#" in the password, a bad port, several hosts
    ['postgres://app:hun/ter2@localhost/app', 'postgres://app:***@localhost/app', ['hun/ter2', 'ter2', 'hun']],
    ['postgres://app:hun#ter2@localhost/app', 'postgres://app:***@localhost/app', ['ter2', 'hun#']],
    ['postgres://app:hunter2@localhost:port/app', 'postgres://app:***@localhost:port/app', ['hunter2']],
    [
      'postgresql://app:hunter2@host1:5432,host2:5433/app',
      'postgresql://app:***@host1:5432,host2:5433/app',
      ['hunter2'],
    ],
    // no scheme at all
    ['app:hunter2@localhost/app', 'app:***@localhost/app', ['hunter2']],
    // libpq keyword/value strings
    [
      'host=localhost user=app password=hunter2 dbname=app',
      'host=localhost user=app password=*** dbname=app',
      ['hunter2'],
    ],
    ["host=localhost password='hunter 2' dbname=app", 'host=localhost password=*** dbname=app', ['hunter', "2'"]],
    // nothing secret: unchanged
    ['not a url', 'not a url', []],
    ['', '', []],
    ['localhost:5432', 'localhost:5432', []],
  ];

  it.each(cases)('%s → %s', (input, expected, secrets) => {
    const output = redactUrl(input);
    expect(output).toBe(expected);
    for (const secret of secrets) expect(output).not.toContain(secret);
  });

  it('keeps the URL usable for display: host, port, database and other parameters stay', () => {
    const output = redactUrl('postgres://app:x@db.example.com:6543/orders?sslmode=require&application_name=api');
    expect(new URL(output)).toMatchObject({
      hostname: 'db.example.com',
      port: '6543',
      pathname: '/orders',
      search: '?sslmode=require&application_name=api',
    });
  });
});

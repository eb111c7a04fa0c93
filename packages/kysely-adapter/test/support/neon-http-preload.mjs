// Loaded with `node --import` into processes that tests spawn (the mig command): Neon's driver sends a test
// URL's queries to https://api.neon-http.localhost/sql (Neon's rule: the endpoint host's first label becomes
// "api"); this sends them to the local endpoint of the test process instead, as a hosts file would.
const endpoint = process.env.MIG_TEST_NEON_HTTP_ENDPOINT;
const original = globalThis.fetch;
if (endpoint) {
  globalThis.fetch = (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    return url === 'https://api.neon-http.localhost/sql' ? original(endpoint, init) : original(input, init);
  };
}

// The GraphQL-over-HTTP audit of the npm package graphql-http against a running server.
// Usage: node tests/conformance/audit.mjs URL; prints one JSON array of {id, name, status, reason}.
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url || !url.startsWith('http://127.0.0.1:')) {
  console.error('usage: node audit.mjs http://127.0.0.1:PORT/graphql (loopback only)');
  process.exit(2);
}
const results = await auditServer({ url, fetchFn: fetch });
const summary = [];
for (const result of results) {
  let reason = result.reason ?? null;
  if (result.status !== 'ok' && result.response) {
    const body = await result.response.text().catch(() => '');
    reason = `${reason} (status ${result.response.status}: ${body.slice(0, 200)})`;
  }
  summary.push({ id: result.id, name: result.name, status: result.status, reason });
}
console.log(JSON.stringify(summary));

// The floor every HTTP figure is divided by (quality bar: B_get, B_post): a bare node:http
// server, in its own process like the server under test, doing the least a JSON API can do.
// Prints its port as the first stdout line.
import http from 'node:http';

const HELLO = JSON.stringify({ hello: 'world' });

const server = http.createServer((req, res) => {
  if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(HELLO) });
    res.end(HELLO);
    return;
  }
  // B_post: read the whole body, parse it (a JSON API always does), echo it back.
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let body;
    try {
      body = JSON.stringify(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    } catch {
      res.writeHead(400).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
// Same keep-alive horizon as Fastify's default, so neither side pays for reconnects.
server.keepAliveTimeout = 72_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${server.address().port}\n`);
});
const stop = () => server.close(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

/**
 * The smallest OTLP/HTTP receiver: reads each request body and answers an
 * empty ExportTraceServiceResponse (an empty protobuf message is zero bytes),
 * without decoding anything. It stands in for a collector so the stock
 * OpenTelemetry configuration pays its full export cost and nothing more.
 * `GET /stats` tells how much arrived, so the harness can check that the
 * exporter really sent spans.
 *
 * Prints `{"port": N}` once listening on loopback.
 */
import { createServer } from 'node:http';

let exports = 0;
let receivedBytes = 0;
const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ exports, receivedBytes }));
    return;
  }
  req.on('data', (chunk: Buffer) => {
    receivedBytes += chunk.length;
  });
  req.on('end', () => {
    exports++;
    res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': '0' });
    res.end();
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
});
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});

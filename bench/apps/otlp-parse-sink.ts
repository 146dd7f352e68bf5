/**
 * The receiver benchmark's baseline: an express app that accepts OTLP/HTTP
 * protobuf exports like the viewer does (same framework, same body limit),
 * decodes each ExportTraceServiceRequest with the same generated protobuf code,
 * and throws the spans away. What the viewer does beyond this is its cost.
 *
 * Prints `{"port": N}` once listening on loopback.
 */
import { createRequire } from 'node:module';
import express from 'express';

interface GeneratedType {
  decode(reader: Uint8Array): { resourceSpans?: { scopeSpans?: { spans?: unknown[] }[] }[] };
}

const require = createRequire(import.meta.url);
const root = require('../../viewer/generated/otlp.cjs') as {
  opentelemetry: { proto: { collector: { trace: { v1: { ExportTraceServiceRequest: GeneratedType } } } } };
};
const request = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

let spans = 0;
const app = express();
app.post('/v1/traces', express.raw({ type: 'application/x-protobuf', limit: '16mb' }), (req, res) => {
  const message = request.decode(req.body as Buffer);
  for (const resource of message.resourceSpans ?? []) {
    for (const scope of resource.scopeSpans ?? []) spans += scope.spans?.length ?? 0;
  }
  res.type('application/x-protobuf').send(Buffer.alloc(0));
});
app.get('/stats', (_req, res) => {
  res.json({ spans });
});
const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
});
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});

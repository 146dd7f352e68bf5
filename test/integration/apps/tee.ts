/**
 * A node:http service recording into Lifeline and, through the standard
 * OTLP variables its test sets, into an OTLP endpoint as well. Every request
 * makes two spans: the server span and one of the app's own.
 */
import { startLifeline } from '@lifeline/node';

await startLifeline({ exportIntervalMs: 50 });

const { createServer } = await import('node:http');
const { trace } = await import('@opentelemetry/api');
const tracer = trace.getTracer('tee-app');

const server = createServer((request, response) => {
  tracer.startActiveSpan('render', (span) => {
    span.setAttribute('app.path', request.url ?? '/');
    span.end();
  });
  response.setHeader('content-type', 'text/plain');
  response.end('ok\n');
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  console.log(`listening on ${typeof address === 'object' && address !== null ? address.port : address}`);
});

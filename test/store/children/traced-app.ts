/**
 * A minimal traced app: SqliteSpanExporter behind a BatchSpanProcessor whose
 * schedule is far away, so only a proper shutdown can save the spans. It
 * records `count` spans, prints `ready`, then either exits normally (its
 * beforeExit handler shuts the provider down) or waits for SIGTERM.
 *
 * usage: node --import @lifeline/test-support/register-source-hooks traced-app.ts <path> <count> <exit|sigterm>
 */

import { SqliteSpanExporter } from '@lifeline/store';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';

const [path, countText, mode] = process.argv.slice(2);
if (path === undefined || mode === undefined) throw new Error('usage: traced-app.ts <path> <count> <exit|sigterm>');

const provider = new TracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'shutdown-app' }),
  spanProcessors: [
    new BatchSpanProcessor({
      exporter: new SqliteSpanExporter({ path }),
      maxQueueSize: 100_000,
      maxExportBatchSize: 512,
      scheduledDelayMillis: 600_000,
    }),
  ],
});
const tracer = provider.getTracer('shutdown-app');
for (let i = 0; i < Number(countText); i++) tracer.startSpan(`job ${i}`, { attributes: { index: i } }).end();

if (mode === 'sigterm') {
  process.once('SIGTERM', () => {
    provider.shutdown().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
  // Keep running, like a server, until told to stop.
  setInterval(() => {}, 60_000);
} else {
  let flushed = false;
  process.on('beforeExit', () => {
    if (flushed) return;
    flushed = true;
    void provider.shutdown();
  });
}
process.stdout.write('ready\n');

/**
 * Writes `batches` × `size` spans into the database at `path`, either through
 * SpanStore.writeSpans (`store`) or through SqliteSpanExporter's writer
 * thread (`exporter`), printing `committed <batch>` once each batch is durable.
 *
 * usage: node --import @lifeline/test-support/register-source-hooks writer.ts <path> <writer> <batches> <size> <store|exporter>
 */
import { createRequire } from 'node:module';
import { openStore, SqliteSpanExporter } from '@lifeline/store';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { batchOfSpans } from './span-source.ts';

// @opentelemetry/core is a dependency of the store, not of the root: resolve it from there.
const { ExportResultCode } = createRequire(new URL('../../../packages/store/package.json', import.meta.url))(
  '@opentelemetry/core',
) as { ExportResultCode: { SUCCESS: number } };

const [path, writerText, batchesText, sizeText, mode] = process.argv.slice(2);
if (path === undefined || mode === undefined)
  throw new Error('usage: writer.ts <path> <writer> <batches> <size> <mode>');
const writer = Number(writerText);
const batches = Number(batchesText);
const size = Number(sizeText);

/** A ReadableSpan carrying exactly the fields of one of our spans. */
function asReadable(span: ReturnType<typeof batchOfSpans>[number]): ReadableSpan {
  const hr = (ns: bigint): [number, number] => [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)];
  return {
    name: span.name,
    kind: span.kind === 'server' ? 1 : 2,
    spanContext: () => ({ traceId: span.traceId, spanId: span.spanId, traceFlags: 1 }),
    ...(span.parentSpanId === undefined
      ? {}
      : { parentSpanContext: { traceId: span.traceId, spanId: span.parentSpanId, traceFlags: 1 } }),
    startTime: hr(span.startTimeNs),
    endTime: hr(span.endTimeNs ?? span.startTimeNs),
    status: { code: 0 },
    attributes: span.attributes as ReadableSpan['attributes'],
    links: [],
    events: [],
    duration: [0, 500_000],
    ended: true,
    resource: { attributes: span.resource } as unknown as ReadableSpan['resource'],
    instrumentationScope: { name: 'cross-process-test' },
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

if (mode === 'store') {
  const store = openStore({ path });
  for (let batch = 0; batch < batches; batch++) {
    store.writeSpans(batchOfSpans(writer, batch, size));
    process.stdout.write(`committed ${batch}\n`);
  }
  store.close();
} else {
  const exporter = new SqliteSpanExporter({ path });
  const exportBatch = (batch: number) =>
    new Promise<void>((done, fail) =>
      exporter.export(batchOfSpans(writer, batch, size).map(asReadable), (result) => {
        if (result.code !== ExportResultCode.SUCCESS) {
          fail(result.error);
          return;
        }
        process.stdout.write(`committed ${batch}\n`);
        done();
      }),
    );
  // A few batches in flight, as a BatchSpanProcessor under load would have.
  const inFlight = new Set<Promise<void>>();
  for (let batch = 0; batch < batches; batch++) {
    const pending = exportBatch(batch).finally(() => inFlight.delete(pending));
    inFlight.add(pending);
    if (inFlight.size >= 4) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  await exporter.shutdown();
}

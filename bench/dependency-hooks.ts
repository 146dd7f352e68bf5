/**
 * What data-dependency tracking costs per database call, in process: the
 * bench app's DB route as spans (a server span, two query spans) with the
 * hooks the pg instrumentation calls (parameters checked, up to 10 rows × 16
 * columns fingerprinted) and without them, in alternating loops; medians of
 * the rounds. Under load, the app-level difference (figure 9's other rows) is
 * within the noise of a shared machine; this isolates it.
 *
 * Run: `node bench/dependency-hooks.ts` after building @lifeline/node. Prints JSON.
 */
import { createRequire } from 'node:module';

const require = createRequire(new URL('../packages/node/package.json', import.meta.url));
const api = require('@opentelemetry/api') as typeof import('@opentelemetry/api');
const { TracerProvider } = require('@opentelemetry/sdk-trace') as typeof import('@opentelemetry/sdk-trace');
const hooks = (await import(
  new URL('../packages/node/dist/data-dependencies.js', import.meta.url).href
)) as typeof import('../packages/node/src/data-dependencies.ts');

const provider = new TracerProvider({ spanProcessors: [new hooks.DataDependencySpanProcessor()] });
const tracer = provider.getTracer('dependency-hooks');

// The rows the bench app's two queries return: one article, twenty comments.
const article = [{ id: 12345, title: 'Title of article 12345', body: 'x'.repeat(600), author: 'author-77' }];
const comments = Array.from({ length: 20 }, (_, i) => ({
  id: 100_000 + i,
  author: `user-${i}`,
  body: 'c'.repeat(200),
}));

function request(tracked: boolean): void {
  const root = tracer.startSpan('GET /articles/:id', {
    kind: api.SpanKind.SERVER,
    attributes: { 'url.path': '/articles/12345' },
  });
  const parent = api.trace.setSpan(api.context.active(), root);
  for (const rows of [article, comments]) {
    const query = tracer.startSpan('SELECT', { kind: api.SpanKind.CLIENT }, parent);
    if (tracked) {
      hooks.noteInputs(query, [12345]);
      hooks.noteOutputs(query, hooks.rowValues(rows));
    }
    query.end();
  }
  root.end();
}

const N = 20_000;
const ROUNDS = Number(process.env.DEPENDENCY_HOOKS_ROUNDS ?? 7);
const loop = (tracked: boolean): number => {
  const t0 = performance.now();
  for (let i = 0; i < N; i++) request(tracked);
  return ((performance.now() - t0) * 1000) / N;
};
loop(true);
loop(false);
const on: number[] = [];
const off: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  on.push(loop(true));
  off.push(loop(false));
}
const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};
const perCallUs = median(on.map((value, i) => (value - (off[i] as number)) / 2));
process.stdout.write(`${JSON.stringify({ perCallUs, spansOnlyPerRequestUs: median(off) })}\n`);

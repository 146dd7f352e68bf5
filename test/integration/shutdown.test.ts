import { describe, expect, it } from 'vitest';
import { validDiagram } from './support/diagram.ts';
import { dbSpans, startApp, tempDb, traceIdOf, waitForTrace } from './support/harness.ts';
import { missingServices } from './support/services.ts';

const missing = await missingServices('postgres', 'mariadb');

// [client, path, database system]
const streams: [string, string, string][] = [
  ['pg-query-stream', '/pg/stream', 'postgresql'],
  ['pg-cursor', '/pg/cursor', 'postgresql'],
  ['mysql2 .stream()', '/mysql/stream', 'mysql'],
];

describe.skipIf(missing.length > 0)('streamed queries still open when the process stops', () => {
  // Without a SIGTERM handler Lifeline shuts down itself; with an app that
  // calls process.exit() at once, only the synchronous exit write is left.
  for (const [how, env] of [
    ['stopped by SIGTERM', {}],
    ['ended by process.exit() in its SIGTERM handler', { APP_EXIT_ON_SIGTERM: '1' }],
  ] as const) {
    it(`are stored as unfinished calls when the app is ${how}`, async () => {
      const db = tempDb();
      const app = await startApp({ app: 'open-at-exit.ts', db: db.path, serviceName: 'open', env });
      try {
        const traceIds: string[] = [];
        for (const [, path] of streams) {
          const response = await fetch(`${app.url}${path}`);
          expect(await response.json(), path).toEqual({ open: true });
          traceIds.push(traceIdOf(response));
        }
        await app.stop('SIGTERM');
        for (const [index, [client, path, system]] of streams.entries()) {
          const trace = await waitForTrace(db.path, traceIds[index] as string, (spans) =>
            spans.some((s) => s.kind === 'server'),
          );
          const queries = dbSpans(trace.spans, system);
          expect(queries, `${client}: ${app.output()}`).toHaveLength(1);
          const [query] = queries;
          expect(query?.endTimeNs, client).toBeDefined();
          expect(query?.attributes['lifeline.unfinished'], client).toBe(true);
          expect(query?.status.code, client).toBe('error');
          expect(query?.status.message, client).toMatch(/unfinished/);
          const text = await validDiagram(trace);
          expect(text, path).toMatch(/p3--xp2: unfinished/);
        }
      } finally {
        await app.stop();
        db.remove();
      }
    }, 60_000);
  }
});

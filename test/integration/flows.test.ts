import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningApp, startApp, tempDb, waitForTrace } from './support/harness.ts';

// Needs no external service: node:http, fetch and better-sqlite3 only.
describe('recordFlow in an app recorded with the register preload', () => {
  const db = tempDb();
  let app: RunningApp;

  beforeAll(async () => {
    app = await startApp({ app: 'flows.ts', db: db.path, serviceName: 'flows' });
  });

  afterAll(async () => {
    await app?.stop();
    db.remove();
  });

  it('takes the flow from the running recorder, and the same request is stored in SQLite too', async () => {
    const response = await fetch(`${app.url}/check`);
    const seen = (await response.json()) as {
      provider: string;
      traces: number;
      traceId: string;
      counts: { database: number; http: number };
      noNPlusOne: boolean;
      message: string;
    };
    expect(seen.provider, app.output()).toBe('lifeline');
    // The callback's own fetch is not recorded: one trace, the app serving /articles.
    expect(seen.traces).toBe(1);
    expect(seen.counts).toMatchObject({ database: 4, http: 0 });
    expect(seen.noNPlusOne).toBe(false);
    expect(seen.message).toMatch(/^expected no N\+1, but GET \/articles runs SELECT authors 4× in a row on /);
    const stored = await waitForTrace(db.path, seen.traceId, (spans) => spans.length >= 5);
    expect(stored.spans.filter((span) => span.kind === 'client')).toHaveLength(4);
  });
});

describe('recordFlow when the recorder started after the app was imported', () => {
  const db = tempDb();
  let app: RunningApp | undefined;

  afterAll(async () => {
    await app?.stop();
    db.remove();
  });

  it('warns on stderr, and every check of the empty flow fails saying why', async () => {
    app = await startApp({ app: 'late-flow.ts', db: db.path, serviceName: 'late-flow', register: false });
    await app.stop();
    const out = app.output();
    expect(out).toMatch(/Lifeline: express was loaded before Lifeline started/);
    const line = out.split('\n').find((l) => l.startsWith('{')) ?? '';
    const seen = JSON.parse(line) as { traces: number; checks: { pass: boolean; message: string }[] };
    expect(seen.traces).toBe(0);
    expect(seen.checks).toHaveLength(3);
    for (const check of seen.checks) {
      expect(check.pass).toBe(false);
      expect(check.message).toMatch(/^no request was recorded/);
      expect(check.message).toContain("started after the app's imports");
    }
  });
});

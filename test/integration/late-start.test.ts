import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { validDiagram } from './support/diagram.ts';
import { dbSpans, type RunningApp, startApp, tempDb, traceIdOf, waitForTrace } from './support/harness.ts';
import { missingServices } from './support/services.ts';

const missingPg = await missingServices('postgres');

const warning = /Lifeline: (.*) were loaded before Lifeline started/g;

describe.skipIf(missingPg.length > 0)('startLifeline() called after the app loaded its libraries', () => {
  const db = tempDb();
  let app: RunningApp | undefined;

  afterEach(async () => {
    await app?.stop();
    app = undefined;
  });
  afterAll(() => db.remove());

  it('says once on stderr which libraries were loaded too early and how to start Lifeline instead', async () => {
    app = await startApp({ app: 'late.ts', db: db.path, serviceName: 'late-start', register: false });
    const response = await fetch(`${app.url}/users/4`);
    expect(await response.json()).toEqual({ id: 4, avatar: 'avatar-4.png' });
    // Nothing recorded the request: no span to name in the headers.
    expect(response.headers.get('x-lifeline-trace')).toBeNull();
    await app.stop();
    const said = [...app.output().matchAll(warning)];
    expect(said, app.output()).toHaveLength(1);
    expect(said[0]?.[1]).toBe('http, express and pg');
    expect(app.output()).toContain('`node --import @lifeline/node/register app.js`');
    expect(app.output()).toContain("`await import('./app.js')`");
  });

  it('stays quiet and records the request when the same app is started with the preload', async () => {
    app = await startApp({ app: 'late.ts', db: db.path, serviceName: 'late-start' });
    const response = await fetch(`${app.url}/users/5`);
    expect(await response.json()).toEqual({ id: 5, avatar: 'avatar-5.png' });
    const traceId = traceIdOf(response);
    const trace = await waitForTrace(
      db.path,
      traceId,
      (spans) => dbSpans(spans, 'postgresql').length === 1 && spans.filter((s) => s.kind === 'server').length === 2,
    );
    expect(await validDiagram(trace)).toMatchInlineSnapshot(`
      "sequenceDiagram
      autonumber
      actor p1 as Client
      participant p2 as late-start
      participant p3 as postgresql test (db)
      p1->>p2: GET /users/:id
      p2->>p3: SELECT
      p3-->>p2: ok
      p2->>p2: GET /avatars/:id
      p2-->>p2: 200
      p2-->>p1: 200
      "
    `);
    expect(app.output()).not.toMatch(warning);
  });

  it('stays quiet for an app that awaits startLifeline() before importing its libraries', async () => {
    app = await startApp({ app: 'plain.ts', db: db.path, serviceName: 'plain', register: false });
    expect((await fetch(`${app.url}/quiet`)).status).toBe(200);
    await app.stop();
    expect(app.output()).not.toMatch(/loaded before Lifeline started/);
  });
});

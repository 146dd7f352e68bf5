import { writeFileSync } from 'node:fs';
import { openStore } from '@lifeline/store';
import { afterEach, describe, expect, it } from 'vitest';
import { validDiagram } from './support/diagram.ts';
import { dbSpans, type RunningApp, startApp, tempDb, traceIdOf, waitForTrace } from './support/harness.ts';

describe('starting Lifeline from the app itself and stopping it', () => {
  const db = tempDb();
  let app: RunningApp | undefined;

  afterEach(async () => {
    await app?.stop('SIGKILL');
    app = undefined;
  });

  it('instruments an ES module app that awaits startLifeline() and then imports its libraries', async () => {
    app = await startApp({ app: 'plain.ts', db: db.path, serviceName: 'plain', register: false });
    const response = await fetch(`${app.url}/visit?ref=mail`);
    expect(await response.json()).toEqual({ enabled: true, service: 'plain' });
    const traceId = traceIdOf(response);
    // The plain node:http wrapper sets the same headers, with the configured viewer.
    expect(response.headers.get('link')).toBe(`<http://viewer.test:9999/traces/${traceId}>; rel="lifeline"`);
    expect(response.headers.get('traceresponse')).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));

    // Spans wait a minute in this app: SIGTERM, with no handler of the app's
    // own, must write them and then end the process as SIGTERM does.
    const exit = await app.stop('SIGTERM');
    expect(exit).toEqual({ code: null, signal: 'SIGTERM' });
    const trace = await waitForTrace(db.path, traceId, (spans) => spans.length >= 2, 2000);
    const server = trace.spans.find((s) => s.kind === 'server');
    expect(server?.attributes['app.plan']).toBe('pro');
    // Dropped by the app's redaction hook.
    expect(server?.attributes).not.toHaveProperty('app.user.email');
    expect(dbSpans(trace.spans, 'sqlite').map((s) => s.name)).toEqual(['INSERT visits']);
    await validDiagram(trace);
  });

  it('flushes on SIGINT as well', async () => {
    app = await startApp({ app: 'plain.ts', db: db.path, serviceName: 'plain', register: false });
    const traceId = traceIdOf(await fetch(`${app.url}/interrupt`));
    expect(await app.stop('SIGINT')).toEqual({ code: null, signal: 'SIGINT' });
    await waitForTrace(db.path, traceId, (spans) => spans.some((s) => s.kind === 'server'), 2000);
  });

  it('loses no span when the app calls process.exit() itself, from its SIGTERM handler or a request', async () => {
    app = await startApp({
      app: 'plain.ts',
      db: db.path,
      serviceName: 'plain',
      register: false,
      env: { APP_EXIT_ON_SIGTERM: '1' },
    });
    const traceIds = [];
    for (const path of ['/one', '/two']) traceIds.push(traceIdOf(await fetch(`${app.url}${path}`)));
    // The app's handler exits synchronously, while Lifeline's flush has only just begun.
    expect(await app.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    for (const traceId of traceIds) {
      const trace = await waitForTrace(db.path, traceId, (spans) => spans.length >= 2, 2000);
      expect(dbSpans(trace.spans, 'sqlite').map((s) => s.name)).toEqual(['INSERT visits']);
    }

    app = await startApp({ app: 'plain.ts', db: db.path, serviceName: 'plain', register: false });
    const exiting = await fetch(`${app.url}/exit`);
    const exitTrace = traceIdOf(exiting);
    expect(await app.exited).toEqual({ code: 3, signal: null });
    await waitForTrace(db.path, exitTrace, (spans) => spans.some((s) => s.kind === 'server'), 2000);
  });

  it('keeps serving and says once on stderr, without any OpenTelemetry logger, that spans could not be stored', async () => {
    const broken = tempDb();
    try {
      writeFileSync(broken.path, 'this is not a database\n'.repeat(100));
      app = await startApp({ app: 'plain.ts', db: broken.path, serviceName: 'plain', register: false });
      for (const path of ['/first', '/second']) expect((await fetch(`${app.url}${path}`)).status).toBe(200);
      await app.stop('SIGTERM');
      const said = app.output().match(/Lifeline: spans were not stored: .*not a Lifeline database/g) ?? [];
      expect(said, app.output()).toHaveLength(1);
    } finally {
      broken.remove();
    }
  });

  it('records nothing when LIFELINE_DISABLED=1', async () => {
    const quiet = tempDb();
    try {
      app = await startApp({
        app: 'plain.ts',
        db: quiet.path,
        serviceName: 'plain',
        register: false,
        env: { LIFELINE_DISABLED: '1' },
      });
      const response = await fetch(`${app.url}/`);
      expect(await response.json()).toEqual({ enabled: false, service: 'plain' });
      expect(response.headers.get('x-lifeline-trace')).toBeNull();
      await app.stop('SIGTERM');
      expect(() => openStore({ path: quiet.path, readonly: true })).toThrow();
    } finally {
      quiet.remove();
    }
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BetterSqlite3Instrumentation } from './better-sqlite3.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeline-bsql-'));
const ignoredPath = join(dir, 'lifeline.db');
const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: exporter })] });
const instrumentation = new BetterSqlite3Instrumentation({ ignorePaths: [ignoredPath], enabled: false });
let Database: typeof BetterSqlite3;

beforeAll(() => {
  instrumentation.setTracerProvider(provider);
  instrumentation.enable();
  // Loaded after enable() through require, the path the instrumentation hooks.
  Database = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
});

afterAll(async () => {
  instrumentation.disable();
  await provider.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => exporter.reset());

describe('BetterSqlite3Instrumentation', () => {
  it('records a client span per statement with the database conventions', () => {
    const db = new Database(join(dir, 'app.db'));
    db.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)');
    db.prepare('INSERT INTO notes (body) VALUES (?)').run('first');
    const row = db.prepare('SELECT body FROM notes WHERE id = ?').get(1) as { body: string };
    const rows = db.prepare('SELECT id FROM notes').all();
    db.close();

    expect(row.body).toBe('first');
    expect(rows).toHaveLength(1);
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name)).toEqual(['CREATE notes', 'INSERT notes', 'SELECT notes', 'SELECT notes']);
    const select = spans[2];
    expect(select?.kind).toBe(SpanKind.CLIENT);
    expect(select?.attributes).toMatchObject({
      'db.system.name': 'sqlite',
      'db.namespace': 'app.db',
      'db.query.text': 'SELECT body FROM notes WHERE id = ?',
      'db.operation.name': 'SELECT',
      'db.collection.name': 'notes',
    });
    expect(spans[3]?.attributes['db.response.returned_rows']).toBe(1);
  });

  it('ends an iterate span only when the rows have been read', () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE n (v INTEGER); INSERT INTO n VALUES (1), (2), (3)');
    exporter.reset();
    const iterator = db.prepare('SELECT v FROM n').iterate();
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    let sum = 0;
    for (const row of iterator) sum += (row as { v: number }).v;
    db.close();
    expect(sum).toBe(6);
    const [span] = exporter.getFinishedSpans();
    expect(span?.attributes['db.response.returned_rows']).toBe(3);
    expect(span?.attributes['db.namespace']).toBe(':memory:');
  });

  it('marks a failing statement as an error and still throws it', () => {
    const db = new Database(':memory:');
    expect(() => db.exec('SELECT * FROM missing_table')).toThrow(/no such table/);
    db.close();
    const [span] = exporter.getFinishedSpans();
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
    expect(span?.attributes['error.type']).toBe('SQLITE_ERROR');
    expect(span?.events.map((e) => e.name)).toContain('exception');
  });

  it("never traces the Lifeline store's own databases, by marker or by path", () => {
    const marked = new Database(':memory:');
    Object.defineProperty(marked, Symbol.for('lifeline.store.internal-database'), { value: true });
    marked.exec('CREATE TABLE spans (id TEXT)');
    marked.prepare('INSERT INTO spans VALUES (?)').run('x');
    marked.close();
    const byPath = new Database(ignoredPath);
    byPath.exec('CREATE TABLE IF NOT EXISTS spans (id TEXT)');
    byPath.prepare('SELECT * FROM spans').all();
    byPath.close();
    expect(exporter.getFinishedSpans()).toEqual([]);
  });
});

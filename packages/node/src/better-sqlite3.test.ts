import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
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

describe('BetterSqlite3Instrumentation and a major it does not support', () => {
  it('loads the module untouched and says once on stderr that it is not traced', () => {
    // A stand-in for a future better-sqlite3 14: a module of that name and version.
    const appDir = join(dir, 'future-app');
    const moduleDir = join(appDir, 'node_modules', 'better-sqlite3');
    mkdirSync(moduleDir, { recursive: true });
    writeFileSync(
      join(moduleDir, 'package.json'),
      JSON.stringify({ name: 'better-sqlite3', version: '14.0.0', main: 'index.js' }),
    );
    writeFileSync(join(moduleDir, 'index.js'), 'module.exports = function Database() {};\n');
    writeFileSync(join(appDir, 'app.js'), "module.exports = require('better-sqlite3');\n");
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const loaded = createRequire(join(appDir, 'app.js'))('./app.js') as { prototype: object };
      expect(typeof loaded).toBe('function');
      expect(Object.keys(loaded.prototype)).toEqual([]);
      const messages = stderr.mock.calls
        .map((call) => String(call[0]))
        .filter((text) => text.includes('better-sqlite3'));
      expect(messages).toEqual([
        'Lifeline: better-sqlite3 14.0.0 is not traced: its instrumentation supports majors 7 to 13\n',
      ]);
    } finally {
      stderr.mockRestore();
    }
  });
});

import { describe, expect, it } from 'vitest';
import { parseQuery, summarizeQuery } from './sql-summary.js';

describe('parseQuery and summarizeQuery', () => {
  it('read the table of SQLite UPDATE OR REPLACE and PostgreSQL UPDATE ONLY', () => {
    expect(parseQuery('UPDATE OR REPLACE counters SET n = n + 1')).toEqual({
      operation: 'UPDATE',
      collection: 'counters',
    });
    expect(parseQuery('UPDATE ONLY "public"."orders" SET paid = true')).toEqual({
      operation: 'UPDATE',
      collection: 'public.orders',
    });
    expect(summarizeQuery('UPDATE OR REPLACE counters SET n = n + 1')).toBe('UPDATE counters');
  });

  it('keep the schema prefix in the collection and leave it out of the label', () => {
    expect(parseQuery('INSERT INTO "public"."comments" (a) VALUES (?)')?.collection).toBe('public.comments');
    expect(summarizeQuery('INSERT INTO "public"."comments" (a) VALUES (?)')).toBe('INSERT comments');
    expect(parseQuery('DELETE FROM `logs` WHERE 1')?.collection).toBe('logs');
  });

  it('look through a WITH clause to the main statement, and past leading comments', () => {
    const text = '/* hint */ -- x\n WITH q AS (SELECT 1) SELECT * FROM q';
    expect(parseQuery(text)).toEqual({ operation: 'SELECT', collection: 'q' });
    expect(summarizeQuery(text)).toBe('SELECT q');
    expect(parseQuery('WITH q AS (SELECT 1)')).toEqual({ operation: 'WITH' });
  });

  it('name a table in a comment nowhere', () => {
    expect(parseQuery('SELECT 1 /* FROM secrets */')).toEqual({ operation: 'SELECT' });
  });

  it('take the table of an index as its collection and the index as its object', () => {
    expect(parseQuery('CREATE UNIQUE INDEX IF NOT EXISTS idx_email ON users (email)')).toEqual({
      operation: 'CREATE',
      collection: 'users',
      object: 'INDEX',
      objectName: 'idx_email',
    });
    expect(summarizeQuery('CREATE INDEX idx_email ON users (email)')).toBe('CREATE INDEX idx_email');
    expect(parseQuery('CREATE TABLE IF NOT EXISTS notes (id INTEGER)')?.collection).toBe('notes');
  });

  it('know SQLite statements and refuse text that is not SQL', () => {
    expect(parseQuery('PRAGMA journal_mode = WAL')).toEqual({ operation: 'PRAGMA' });
    expect(summarizeQuery('ATTACH DATABASE ? AS aux')).toBe('ATTACH');
    expect(parseQuery('   ')).toBeUndefined();
    expect(parseQuery('GET article:42')).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { sanitizeSql, sqlCollection, sqlOperation } from './sql.js';

describe('sanitizeSql', () => {
  it('ends a standard string at its quote even after a backslash, and a MySQL one only at an unescaped quote', () => {
    // In PostgreSQL and SQLite 'C:\' is a complete literal; reading the backslash
    // as an escape would leave the next literal's text in the recorded query.
    expect(sanitizeSql("INSERT INTO files VALUES ('C:\\', 'hunter2')")).toBe('INSERT INTO files VALUES (?, ?)');
    expect(sanitizeSql("SELECT E'a\\'b', 'c'")).toBe('SELECT ?, ?');
    expect(sanitizeSql("INSERT INTO t VALUES ('it\\'s', 'hunter2')", { doubleQuotedStrings: true })).toBe(
      'INSERT INTO t VALUES (?, ?)',
    );
  });

  it('never lets a literal through when the text does not follow the dialect', () => {
    // A backslash-escaped quote outside MySQL: read as MySQL instead.
    expect(sanitizeSql("INSERT INTO t VALUES ('it\\'s', 'hunter2')")).toBe('INSERT INTO t VALUES (?, ?)');
    // Unclosed in both dialects: everything from the quote on may be data.
    expect(sanitizeSql("SELECT * FROM t WHERE a = 'x\\' AND b = \"secret")).not.toContain('secret');
    expect(sanitizeSql("SELECT * FROM t WHERE name = 'unterminated secret")).toBe('SELECT * FROM t WHERE name = ?');
    // A quote inside a comment is not a literal: the comment goes, the rest stays.
    expect(sanitizeSql("SELECT 1 -- don't\nFROM t")).toBe('SELECT ? \nFROM t');
  });

  it('replaces string and numeric literals with placeholders', () => {
    expect(sanitizeSql("SELECT * FROM users WHERE email = 'a@b.c' AND age > 30 AND score < 1.5e3")).toBe(
      'SELECT * FROM users WHERE email = ? AND age > ? AND score < ?',
    );
  });

  it('keeps existing placeholders, identifiers with digits and quoted identifiers', () => {
    expect(sanitizeSql('SELECT t1.id, "Order2" FROM t1 WHERE id = $1 AND x = ? AND y = :name AND z = @p')).toBe(
      'SELECT t1.id, "Order2" FROM t1 WHERE id = $1 AND x = ? AND y = :name AND z = @p',
    );
  });

  it('treats escaped quotes, prefixed strings and dollar-quoted bodies as one literal each', () => {
    expect(sanitizeSql("INSERT INTO n VALUES ('it''s', E'a\\'b', X'ff', $$secret ' text$$, $tag$x$tag$)")).toBe(
      'INSERT INTO n VALUES (?, ?, ?, ?, ?)',
    );
  });

  it('replaces double-quoted strings only where they are strings (MySQL)', () => {
    const sql = 'SELECT "name" FROM `users` WHERE nick = "bob"';
    expect(sanitizeSql(sql, { doubleQuotedStrings: true })).toBe('SELECT ? FROM `users` WHERE nick = ?');
    expect(sanitizeSql(sql)).toBe(sql);
  });

  it('answers a repeated statement the same way in each dialect, whichever was asked first', () => {
    const sql = 'SELECT "title" FROM articles WHERE slug = "remembered-once"';
    const standard = sanitizeSql(sql);
    const mysql = sanitizeSql(sql, { doubleQuotedStrings: true });
    expect(standard).toBe(sql);
    expect(mysql).toBe('SELECT ? FROM articles WHERE slug = ?');
    expect(sanitizeSql(sql)).toBe(standard);
    expect(sanitizeSql(sql, { doubleQuotedStrings: true })).toBe(mysql);
  });

  it('keeps sanitizing correctly once more distinct statements went by than it remembers', () => {
    for (let i = 0; i < 1200; i++) expect(sanitizeSql(`SELECT ${i} FROM t${i % 7}`)).toBe(`SELECT ? FROM t${i % 7}`);
    const long = `SELECT id FROM t WHERE note = '${'x'.repeat(5000)}'`;
    expect(sanitizeSql(long)).toBe('SELECT id FROM t WHERE note = ?');
    expect(sanitizeSql(long)).toBe('SELECT id FROM t WHERE note = ?');
  });

  it('removes comments, which may carry data, without reading quotes inside them as literals', () => {
    expect(sanitizeSql("SELECT 1 -- don't\nFROM a /* it's */ WHERE b = 'x'")).toBe('SELECT ? \nFROM a   WHERE b = ?');
    expect(sanitizeSql('SELECT/* user=alice@example.com */id FROM t -- token=abc123')).toBe('SELECT id FROM t ');
    expect(
      sanitizeSql("SELECT id FROM t /*+ sqlcommenter: traceparent='00-abc' */", { doubleQuotedStrings: true }),
    ).toBe('SELECT id FROM t  ');
  });

  it('replaces hexadecimal numbers and keeps keywords such as NULL and TRUE', () => {
    expect(sanitizeSql('UPDATE f SET v = 0xFF, w = NULL, z = TRUE WHERE id IN (1, 2, 3)')).toBe(
      'UPDATE f SET v = ?, w = NULL, z = TRUE WHERE id IN (?, ?, ?)',
    );
  });
});

describe('sqlOperation and sqlCollection', () => {
  it('name the operation and the table of simple statements', () => {
    expect(sqlOperation('  select id from articles')).toBe('SELECT');
    expect(sqlCollection('select id from articles where id = ?')).toBe('articles');
    expect(sqlCollection('INSERT INTO "public"."comments" (a) VALUES (?)')).toBe('public.comments');
    expect(sqlCollection('UPDATE OR REPLACE counters SET n = n + 1')).toBe('counters');
    expect(sqlCollection('CREATE TABLE IF NOT EXISTS notes (id INTEGER)')).toBe('notes');
    expect(sqlCollection('DELETE FROM `logs` WHERE 1')).toBe('logs');
  });

  it('skip leading comments and say nothing when there is no table', () => {
    expect(sqlOperation('/* hint */ -- x\n WITH q AS (SELECT 1) SELECT * FROM q')).toBe('SELECT');
    expect(sqlCollection('SELECT 1')).toBeUndefined();
    expect(sqlOperation('   ')).toBeUndefined();
  });
});

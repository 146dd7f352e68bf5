import { describe, expect, it } from 'vitest';
import { formatTable } from './table.js';

describe('formatTable', () => {
  it('keeps each row on one line whatever its cells hold', () => {
    const text = formatTable(
      [{ header: 'SERVICE' }, { header: 'REQUEST' }, { header: 'MS', align: 'right' }],
      [
        ['api', 'GET /a', '5'],
        ['evil\nservice', 'GET /b\r\nX-Injected: 1\t\u001b[2J', '12'],
      ],
    );
    const lines = text.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('evil service  GET /b X-Injected: 1 [2J  12');
    expect(lines[0]).toBe('SERVICE       REQUEST                   MS');
  });

  it('cuts a cell longer than its column allows with an ellipsis, and keeps the columns aligned', () => {
    const long = `/${'a'.repeat(100_000)}`;
    const text = formatTable(
      [{ header: 'REQUEST', maxWidth: 20 }, { header: 'ID' }],
      [
        [`GET ${long}`, '1'],
        ['GET /b', '2'],
      ],
    );
    const lines = text.split('\n');
    expect(lines[1]).toBe(`GET /${'a'.repeat(14)}…  1`);
    expect(lines[2]).toBe(`GET /b${' '.repeat(14)}  2`);
    expect(lines[0]).toBe(`REQUEST${' '.repeat(13)}  ID`);
  });
});

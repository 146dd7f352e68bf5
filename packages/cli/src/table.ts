import { displayName } from '@lifeline/core';

/** Longest service name a table row shows; the JSON output keeps the whole name. */
export const MAX_SERVICE_WIDTH = 32;
/** Longest request or endpoint (method and route, or a span name) a table row shows. */
export const MAX_REQUEST_WIDTH = 80;

/** One column of a text table. */
export interface TableColumn {
  readonly header: string;
  /** Numbers read best right-aligned so their digits line up. */
  readonly align?: 'left' | 'right';
  /**
   * Longest cell, in characters: a longer one is cut with `…`, so a name of
   * 100,000 characters does not push every other column off the screen.
   * Default: no limit (ids, numbers).
   */
  readonly maxWidth?: number;
}

/**
 * Lays rows out as an aligned plain-text table (two spaces between columns,
 * no trailing spaces), the way `ps` or `docker ps` do, so it reads in any
 * terminal and still splits on whitespace in a pipe.
 */
export function formatTable(columns: readonly TableColumn[], rows: readonly (readonly string[])[]): string {
  // One row per line whatever the cells hold: a service or route name with a
  // line break or a control character would split the row or move the cursor.
  rows = rows.map((row) =>
    row.map((cell, index) => displayName(cell, columns[index]?.maxWidth ?? Number.POSITIVE_INFINITY)),
  );
  const widths = columns.map((column, index) =>
    Math.max(column.header.length, ...rows.map((row) => (row[index] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    columns
      .map((column, index) => {
        const cell = cells[index] ?? '';
        const width = widths[index] ?? 0;
        return column.align === 'right' ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((column) => column.header)), ...rows.map(line)].join('\n');
}

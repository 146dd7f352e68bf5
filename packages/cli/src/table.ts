/** One column of a text table. */
export interface TableColumn {
  readonly header: string;
  /** Numbers read best right-aligned so their digits line up. */
  readonly align?: 'left' | 'right';
}

/**
 * Lays rows out as an aligned plain-text table (two spaces between columns,
 * no trailing spaces), the way `ps` or `docker ps` do, so it reads in any
 * terminal and still splits on whitespace in a pipe.
 */
export function formatTable(columns: readonly TableColumn[], rows: readonly (readonly string[])[]): string {
  // One row per line whatever the cells hold: a service or route name with a
  // line break or a control character would split the row or move the cursor.
  rows = rows.map((row) => row.map(oneLine));
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

/** A cell's text on one line: line breaks and tabs become spaces, other control characters `?`. */
function oneLine(cell: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is replaced.
  return cell.replace(/\r\n|[\r\n\t]/g, ' ').replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

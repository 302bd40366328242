/**
 * A Markdown table from rows of cells, so a benchmark's console output can be pasted into
 * docs/PERFORMANCE.md as is. Columns are padded to their widest cell; numbers align right.
 */

export type Cell = string | number | null;

export interface Column {
  readonly key: string;
  /** Header text; the key when absent. */
  readonly title?: string;
  /** Digits after the point for numbers; 1 when absent. */
  readonly digits?: number;
}

/** The table as text, one line per row, with a header and a separator line. */
export function formatTable(
  columns: readonly Column[],
  rows: readonly Record<string, Cell>[],
): string {
  const text = (cell: Cell, digits: number): string =>
    cell === null ? '–' : typeof cell === 'number' ? formatNumber(cell, digits) : cell;
  const body = rows.map((row) => columns.map((c) => text(row[c.key] ?? null, c.digits ?? 1)));
  const head = columns.map((c) => c.title ?? c.key);
  const widths = head.map((h, i) =>
    Math.max(h.length, ...body.map((r) => (r[i] as string).length)),
  );
  const numeric = columns.map((c) => rows.every((r) => typeof (r[c.key] ?? null) !== 'string'));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((s, i) => (numeric[i] ? s.padStart(widths[i] as number) : s.padEnd(widths[i] as number))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (numeric[i] ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(head), rule, ...body.map(line)].join('\n');
}

/** Fixed digits, with thin grouping of thousands for large values (12 345.6). */
export function formatNumber(value: number, digits = 1): string {
  if (!Number.isFinite(value)) return String(value);
  const [whole = '', frac] = Math.abs(value).toFixed(digits).split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${value < 0 ? '-' : ''}${grouped}${frac !== undefined ? `.${frac}` : ''}`;
}

/** Bytes in MiB, for table cells. */
export function mib(bytes: number): number {
  return bytes / (1024 * 1024);
}

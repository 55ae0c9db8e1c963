// Terminal output the commands share: numbers to fixed decimals, aligned tables, and a progress
// counter that only a terminal sees.

/** Formats a number with d decimals, '-' when undefined (NaN). */
export const fixed = (x: number, d: number) => (Number.isFinite(x) ? x.toFixed(d) : '-');

/** Left-aligned columns, each as wide as its widest cell plus two spaces. */
export function formatTable(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] + 2))).join('')).join('\n');
}

/** Prints a one-line progress counter to a terminal's stderr (never into piped output). */
export function progressLine(done: number, total: number, what: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r${what} ${done}/${total}${done === total ? '\n' : ''}`);
}

/** Progress lines on stderr, or nothing when `quiet`. */
export function logger(quiet: boolean): (line: string) => void {
  return quiet ? () => {} : (line) => console.error(line);
}

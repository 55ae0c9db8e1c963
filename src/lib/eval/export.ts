// Results as files people open elsewhere: RFC 4180 CSV that any spreadsheet reads and plain
// JSON, as pure functions over row objects (the browser downloads them, the CLI writes them).

export type Cell = string | number | boolean | null | undefined;

/** Characters that make a spreadsheet read a text cell as a formula (OWASP "CSV injection"). */
const FORMULA_START = /^[=+\-@\t\r]/;
/** Control characters other than TAB, LF and CR (a model can emit a NUL byte token). */
// eslint-disable-next-line no-control-regex -- matching control characters is this pattern's job
const CONTROLS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g;

export interface CsvOptions {
  /**
   * Prefix text cells that start with = + - @ tab or CR with an apostrophe so spreadsheets show
   * them instead of evaluating them (default true). Number cells are never changed.
   */
  formulaGuard?: boolean;
  /** Start with a UTF-8 byte order mark, which Excel needs to read non-ASCII text (default false). */
  bom?: boolean;
}

/**
 * One CSV field: numbers in JavaScript's shortest round-trip form (always '.' decimals, never
 * thousands separators; NaN, ±Infinity, null and undefined become an empty field), booleans as
 * true/false, and text quoted (with doubled quotes) when it holds a comma, quote, CR or LF.
 * Control characters other than TAB, CR and LF become U+FFFD (spreadsheets treat a NUL as the
 * end of the file or refuse it; JSON exports keep the exact text).
 */
export function csvField(v: Cell, opts: CsvOptions = {}): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  let s = v.replace(CONTROLS, '\uFFFD');
  if ((opts.formulaGuard ?? true) && FORMULA_START.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/**
 * RFC 4180 CSV: a header row with `columns`, then one record per row (the value of each column,
 * missing ones empty), records ended by CRLF.
 */
export function toCsv(
  columns: readonly string[],
  rows: readonly Record<string, Cell>[],
  opts: CsvOptions = {},
): string {
  const lines = [columns.map((c) => csvField(c, opts)).join(',')];
  for (const r of rows) lines.push(columns.map((c) => csvField(r[c], opts)).join(','));
  return (opts.bom ? '\uFEFF' : '') + lines.map((l) => `${l}\r\n`).join('');
}

/** Pretty JSON; NaN and ±Infinity become null (JSON has no such numbers). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2);
}

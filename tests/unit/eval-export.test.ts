// CSV and JSON export: RFC 4180 quoting checked byte for byte and by a round trip through an
// independent parser (tests/helpers/csv.ts), numbers with '.' decimals, spreadsheet formula guard.
import { describe, expect, it } from 'vitest';
import { csvField, toCsv, toJson } from '../../src/lib/eval/export';
import { SWEEP_ROW_COLUMNS, sweepRowsCsv } from '../../src/lib/eval/tables';
import type { SweepRow } from '../../src/lib/eval/sweep';
import { parseCsv } from '../helpers/csv';

describe('CSV', () => {
  it('quotes exactly the fields that need it, with doubled quotes, and ends records with CRLF', () => {
    const csv = toCsv(
      ['a', 'b', 'c'],
      [
        { a: 'x,y', b: 'say "hi"', c: 'two\nlines' },
        { a: 'plain', b: 0.25, c: undefined },
      ],
    );
    expect(csv).toBe('a,b,c\r\n"x,y","say ""hi""","two\nlines"\r\nplain,0.25,\r\n');
  });

  it('writes numbers with "." decimals in round-trip form and empty fields for NaN and Infinity', () => {
    expect([0.1 + 0.2, -1.5e-7, 1e21, 3, NaN, Infinity, -0].map((x) => csvField(x))).toEqual([
      '0.30000000000000004',
      '-1.5e-7',
      '1e+21',
      '3',
      '',
      '',
      '0',
    ]);
    expect([true, false, null].map((x) => csvField(x))).toEqual(['true', 'false', '']);
  });

  it('guards text cells that a spreadsheet would run as a formula, never numbers', () => {
    expect(csvField('=SUM(A1)')).toBe("'=SUM(A1)");
    expect(csvField('-rm')).toBe("'-rm");
    expect(csvField('@x')).toBe("'@x");
    expect(csvField(-2)).toBe('-2');
    expect(csvField('=1', { formulaGuard: false })).toBe('=1');
    expect(csvField('a\u0000b')).toBe('a\uFFFDb');
    expect(toCsv(['a'], [], { bom: true })).toBe('\uFEFFa\r\n');
  });

  it('round-trips awkward generated texts through a sweep CSV', () => {
    const texts = [' as I sense, the "nodes"', 'line one\r\nline two', 'naïve café 😀', '', ',,,', '"', 'tab\there'];
    const rows: SweepRow[] = texts.map((text, i) => ({
      dtype: 'q4',
      temperature: 0.5,
      top_k: 5,
      top_p: 0.95,
      max_new_tokens: 32,
      seed: i,
      length: 7,
      prefix_match: 3,
      identical_pct: 42.857142857142854,
      distinct_1: 0.8571428571428571,
      distinct_2: 1,
      repetition_rate: 0,
      ref_ppl: i === 3 ? NaN : 2.5 + i,
      text,
      ...(i === 6 ? { error: { code: 'generate-failed' as const, message: 'failed, "badly"' } } : {}),
    }));
    const parsed = parseCsv(sweepRowsCsv(rows));
    expect(parsed[0]).toEqual(SWEEP_ROW_COLUMNS);
    expect(parsed).toHaveLength(texts.length + 1);
    const col = (name: string) => parsed.slice(1).map((r) => r[SWEEP_ROW_COLUMNS.indexOf(name)]);
    expect(col('text')).toEqual(texts);
    expect(col('ref_ppl')).toEqual(['2.5', '3.5', '4.5', '', '6.5', '7.5', '8.5']);
    expect(col('identical_pct').map(Number)).toEqual(texts.map(() => 42.857142857142854));
    expect(col('error')).toEqual(['', '', '', '', '', '', 'failed, "badly"']);
    expect(parsed.every((r) => r.length === SWEEP_ROW_COLUMNS.length)).toBe(true);
  });
});

describe('JSON', () => {
  it('writes NaN and Infinity as null and keeps text exactly', () => {
    expect(JSON.parse(toJson({ a: NaN, b: [Infinity, 1.5], t: 'a\u0000"b' }))).toEqual({
      a: null,
      b: [null, 1.5],
      t: 'a\u0000"b',
    });
  });
});

// Charts' text alternative: the table built from the data chart.js draws.
import { describe, expect, it } from 'vitest';
import { cell, chartTable } from '../../src/lib/page/chart-table';

describe('chartTable', () => {
  it('makes a row per label and a column per series for category charts', () => {
    const t = chartTable({
      labels: ['q8', 'q4'],
      datasets: [
        { label: 'mean KLD', data: [0.004642, 0.05292] },
        { label: '99% KLD', data: [0.03274, null] },
      ],
    });
    expect(t.head).toEqual(['', 'mean KLD', '99% KLD']);
    expect(t.rows).toEqual([
      ['q8', '0.004642', '0.03274'],
      ['q4', '0.05292', '–'],
    ]);
  });

  it('makes a row per point, with its series and extra fields, for point charts', () => {
    const t = chartTable(
      {
        datasets: [
          { label: 'aidreams', data: [{ x: 0.98, y: 3.93377, precision: 'fp32' }] },
          { label: 'tiny', data: [{ x: 2, y: 8.5, precision: 'q4' }] },
        ],
      },
      'MB',
      'bits/byte',
    );
    expect(t.head).toEqual(['series', 'precision', 'MB', 'bits/byte']);
    expect(t.rows).toEqual([
      ['aidreams', 'fp32', '0.98', '3.9338'],
      ['tiny', 'q4', '2', '8.5'],
    ]);
  });

  it('numbers labels when there are none, and writes missing values as a dash', () => {
    expect(chartTable({ datasets: [{ data: [1.5, NaN] }] }).rows).toEqual([
      ['1', '1.5'],
      ['2', '–'],
    ]);
    expect([cell(undefined), cell(Infinity), cell(12345.678), cell(0.000123456)]).toEqual([
      '–',
      '–',
      '12346',
      '0.0001235',
    ]);
  });
});

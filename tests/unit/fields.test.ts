// The page's numeric-field helpers: the range check the presets and calibration fields share with
// the sampling settings, the calibration cross-check, the field markers, and the drafts record read
// back from storage (any JSON value; only well-formed entries survive).
import { describe, expect, it } from 'vitest';
import { MAX_DRAFT_CHARS, numericAttrs, parseDrafts } from '../../src/lib/page/fields';
import { CALIB_FIELDS, calibrationProblem } from '../../src/lib/page/quantize-form';
import { checkInRange } from '../../src/lib/page/settings';

const RUNS = { label: 'Seeds per temperature', min: 2, max: 32, integer: true, default: 8 };

describe('checkInRange', () => {
  it('accepts in-range whole numbers as they are', () => {
    expect(checkInRange(RUNS, '2')).toEqual({ value: 2 });
    expect(checkInRange(RUNS, ' 32 ')).toEqual({ value: 32 });
  });

  it('clamps, rounds and falls back with a message naming the field', () => {
    expect(checkInRange(RUNS, '1000')).toEqual({
      value: 32,
      message: 'Seeds per temperature 1000 is above the maximum 32; using 32.',
    });
    expect(checkInRange(RUNS, '-3')).toEqual({
      value: 2,
      message: 'Seeds per temperature -3 is below the minimum 2; using 2.',
    });
    expect(checkInRange(RUNS, '7.5')).toEqual({
      value: 8,
      message: 'Seeds per temperature must be a whole number (got 7.5); using 8.',
    });
    for (const garbage of ['', 'abc', 'NaN', 'Infinity', '1e309', '🙂'])
      expect(checkInRange(RUNS, garbage)).toEqual({
        value: 8,
        message: `Seeds per temperature: "${garbage}" is not a number; using 8.`,
      });
  });

  it('bounds the calibration fields (a window of 3 is the shortest: BOS and two tokens)', () => {
    expect(checkInRange(CALIB_FIELDS.window, '2')).toEqual({
      value: 3,
      message: 'Calibration window 2 is below the minimum 3; using 3.',
    });
    expect(checkInRange(CALIB_FIELDS.tokens, '9'.repeat(20)).value).toBe(1_048_576);
    // Past float64's range it is no number at all.
    expect(checkInRange(CALIB_FIELDS.tokens, '9'.repeat(400)).value).toBe(512);
  });
});

describe('calibrationProblem', () => {
  it('names fewer tokens than one window, and nothing otherwise', () => {
    expect(calibrationProblem(100, 128)).toBe(
      'Calibration tokens 100 is fewer than one window of 128: give at least 128 tokens, or a shorter window.',
    );
    expect(calibrationProblem(128, 128)).toBeUndefined();
    expect(calibrationProblem(512, 128)).toBeUndefined();
  });
});

describe('numericAttrs', () => {
  it('declares the kind, range and what else the field takes', () => {
    expect(numericAttrs({ min: 0, max: 2, integer: false })).toEqual({
      'data-numeric': 'number',
      'data-min': '0',
      'data-max': '2',
      'data-integer': undefined,
      'data-blank': undefined,
      'data-words': undefined,
    });
    expect(numericAttrs({ min: 0, max: 200, integer: true, kind: 'list', blank: true, words: ['off'] })).toEqual({
      'data-numeric': 'list',
      'data-min': '0',
      'data-max': '200',
      'data-integer': '',
      'data-blank': '',
      'data-words': 'off',
    });
  });
});

describe('parseDrafts', () => {
  it('keeps well-formed drafts and drops everything else', () => {
    expect(
      parseDrafts({
        seed: { text: '12' },
        'preset-runs': { text: '16', applied: true },
        odd: { text: 'x', applied: 'yes' },
        number: { text: 5 },
        missing: {},
        nul: null,
        long: { text: 'x'.repeat(MAX_DRAFT_CHARS + 1) },
      }),
    ).toEqual({ seed: { text: '12' }, 'preset-runs': { text: '16', applied: true }, odd: { text: 'x' } });
  });

  it('gives nothing for a record that is not an object', () => {
    for (const raw of [undefined, null, 'seed', 42, [{ text: '1' }]]) expect(parseDrafts(raw)).toEqual({});
  });
});

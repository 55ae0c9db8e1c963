// The lab's comparison by method: each variant's method from its manifest options or its name,
// the size-against-quality series (one per method, in size order, with the context when points
// come from several), and the calibration texts a report names against its evaluation text.
import { describe, expect, it } from 'vitest';
import {
  calibrationUses,
  sameTextTag,
  sizeQualitySeries,
  variantMethod,
  type SizeQualityPoint,
} from '../../src/lib/eval/lab-charts';

const point = (precision: string, bytes: number, over: Partial<SizeQualityPoint> = {}): SizeQualityPoint => ({
  modelKey: 'local:m',
  model: 'm',
  precision,
  bytes,
  bits_per_byte: 1,
  ppl: 2,
  text: 'built-in sample',
  ctx: 128,
  at: '2026-12-02T00:00:00Z',
  ...over,
});

describe('variant methods', () => {
  it('reads the manifest options first: a plan is mixed, a method is itself', () => {
    expect(variantMethod({ stem: 'model_q4_mixabc', options: { dtype: 'q4', method: 'rtn', plan: [] } })).toBe('mixed');
    expect(variantMethod({ stem: 'mine', options: { dtype: 'q4', method: 'gptq' } })).toBe('gptq');
    expect(variantMethod({ stem: 'mine', options: { dtype: 'q4', method: 'rtn' } })).toBe('rtn');
    expect(variantMethod({ stem: 'model_fp16', options: { dtype: 'fp16' } })).toBe('float');
    expect(variantMethod({ stem: 'model_bnb4', options: { dtype: 'bnb4' } })).toBe('rtn');
  });

  it('falls back on the file name or label', () => {
    expect(variantMethod({ stem: 'model' })).toBe('float');
    expect(variantMethod({ label: 'fp32' })).toBe('float');
    expect(variantMethod({ label: 'q4 hqq b64' })).toBe('hqq');
    expect(variantMethod({ stem: 'model_q3nbits_awq' })).toBe('awq');
    expect(variantMethod({ label: 'q4 mixed' })).toBe('mixed');
    expect(variantMethod({ stem: 'model_quantized' })).toBe('rtn');
    expect(variantMethod({ label: 'q8' })).toBe('rtn');
  });
});

describe('size against quality series', () => {
  it('groups one model on one text by method, each in size order, methods in a fixed order', () => {
    const s = sizeQualitySeries([
      point('q4 mixed', 300, { method: 'mixed' }),
      point('q4', 400, { method: 'rtn' }),
      point('fp32', 1000, { method: 'float' }),
      point('q8', 600, { method: 'rtn' }),
      point('q2', 200), // no method recorded: read from the label
      point('q4 gptq', 400, { method: 'gptq' }),
    ]);
    expect(s.map((g) => g.label)).toEqual(['float', 'rtn', 'gptq', 'mixed']);
    expect(s[1].points.map((p) => p.precision)).toEqual(['q2', 'q4', 'q8']);
    expect(s[3]).toMatchObject({ method: 'mixed', points: [{ precision: 'q4 mixed', bytes: 300 }] });
  });

  it('keeps contexts apart when the points come from several texts or windows', () => {
    const s = sizeQualitySeries([point('q4', 400, { method: 'rtn' }), point('q4', 400, { method: 'rtn', ctx: 64 })]);
    expect(s.map((g) => g.label)).toEqual([
      'rtn · m · built-in sample · ctx 128',
      'rtn · m · built-in sample · ctx 64',
    ]);
  });
});

describe('calibration texts of a report', () => {
  it('names each text with its precisions, and flags the one that is the evaluation text (up to whitespace)', () => {
    const evalText = 'Once upon a time\nthere was a dream.';
    const evalTag = sameTextTag(evalText);
    expect(sameTextTag('Once upon a time   there was a dream.  ')).toBe(evalTag);
    const uses = calibrationUses(
      {
        fp32: { method: 'float' },
        'q4 gptq': { method: 'gptq', calibration: { name: 'built-in calibration sample', tag: sameTextTag('other') } },
        'q4 mixed': { method: 'mixed', calibration: { name: "the quality lab's text", tag: evalTag } },
        'q4 awq': { method: 'awq', calibration: { name: 'built-in calibration sample', tag: sameTextTag('other') } },
      },
      evalTag,
    );
    expect(uses).toEqual([
      { name: 'built-in calibration sample', precisions: ['q4 gptq', 'q4 awq'], same: false },
      { name: "the quality lab's text", precisions: ['q4 mixed'], same: true },
    ]);
  });
});

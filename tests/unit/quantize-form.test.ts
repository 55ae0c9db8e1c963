// The Quantize dialog's fields as builder calls: defaults unchanged, a method other than rtn only
// on the MatMulNBits precisions (the rest quantized as usual), the file name with the method's file.
import { describe, expect, it } from 'vitest';
import { quantizeJobs, type QuantizeForm } from '../../src/lib/page/quantize-form';
import { expandRequests } from '../../src/lib/quantize/quantize-variants';

const DEFAULTS: QuantizeForm = {
  method: 'rtn',
  bits: 4,
  blockSize: '',
  asym: false,
  quantType: 'nf4',
  doubleQuant: false,
  name: '',
};

describe('quantizeJobs', () => {
  it('sends the defaults as one job, as the dialog always did', () => {
    expect(quantizeJobs(['q8', 'q4', 'bnb4'], DEFAULTS)).toEqual([
      { dtypes: ['q8', 'q4', 'bnb4'], options: { quantType: 'nf4', doubleQuant: false } },
    ]);
    expect(quantizeJobs(['q4'], { ...DEFAULTS, bits: 3, asym: true, blockSize: '64', name: ' mine ' })).toEqual([
      {
        dtypes: ['q4'],
        options: { blockSize: 64, bits: 3, symmetric: false, quantType: 'nf4', doubleQuant: false, name: 'mine' },
      },
    ]);
  });

  it('puts hqq on q4 / q4f16 only, the other precisions in a job of their own before it', () => {
    const jobs = quantizeJobs(['q8', 'q4', 'bnb4', 'q4f16'], { ...DEFAULTS, method: 'hqq', bits: 2, name: 'x' });
    expect(jobs).toEqual([
      { dtypes: ['q8', 'bnb4'], options: { quantType: 'nf4', doubleQuant: false } },
      {
        dtypes: ['q4', 'q4f16'],
        options: { bits: 2, method: 'hqq', quantType: 'nf4', doubleQuant: false, name: 'x' },
      },
    ]);
    // Both jobs pass validation, except a name for two files, which the builder refuses by name.
    expect(() => expandRequests(jobs[0].dtypes, jobs[0].options)).not.toThrow();
    expect(() => expandRequests(jobs[1].dtypes, jobs[1].options)).toThrow(/names one file, but 2 dtypes/);
  });

  it('sends hqq with no MatMulNBits precision as asked, so the builder names the mismatch', () => {
    const jobs = quantizeJobs(['q8'], { ...DEFAULTS, method: 'hqq' });
    expect(jobs).toHaveLength(1);
    expect(() => expandRequests(jobs[0].dtypes, jobs[0].options)).toThrow(/applies to MatMulNBits variants/);
  });
});

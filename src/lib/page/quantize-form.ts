// What the Quantize dialog's fields ask of the builder: one job with the shared options, or, when a
// method other than round-to-nearest is chosen (it applies to MatMulNBits variants only), the
// MatMulNBits precisions with it and the others with their usual options.

import { DEFAULT_CALIB_TOKENS, DEFAULT_CALIB_WINDOW, MIN_CALIB_WINDOW } from '../quantize/calibration';
import type { GridBits } from '../quantize/grid';
import { NBITS_DTYPES, type Method, type QuantizeOptions } from '../variants/options';

/** The dialog's fields ('' = the default). */
export interface QuantizeForm {
  method: Method;
  bits: GridBits;
  /** '' or a block size. */
  blockSize: string;
  /** A zero point per block (q4, q4f16). */
  asym: boolean;
  quantType: 'nf4' | 'fp4';
  doubleQuant: boolean;
  /** Output file stem for a single precision ('' = derived from the options). */
  name: string;
}

export interface QuantizeJob {
  dtypes: string[];
  options: Omit<QuantizeOptions, 'dtype'>;
}

/** The builder calls a form makes, in order (each validated by the builder; an error names the problem). */
export function quantizeJobs(chosen: readonly string[], f: QuantizeForm): QuantizeJob[] {
  const common: Omit<QuantizeOptions, 'dtype'> = {
    ...(f.blockSize ? { blockSize: Number(f.blockSize) } : {}),
    quantType: f.quantType,
    doubleQuant: f.doubleQuant,
  };
  const nbits: Omit<QuantizeOptions, 'dtype'> = {
    ...common,
    ...(f.bits !== 4 ? { bits: f.bits } : {}),
    ...(f.method !== 'rtn' ? { method: f.method } : {}),
    ...(f.asym ? { symmetric: false } : {}),
  };
  const name = f.name.trim() ? { name: f.name.trim() } : {};
  if (f.method === 'rtn') return [{ dtypes: [...chosen], options: { ...nbits, ...name } }];
  const mine = chosen.filter((d) => NBITS_DTYPES.includes(d));
  const rest = chosen.filter((d) => !NBITS_DTYPES.includes(d));
  // No MatMulNBits precision chosen: sent as asked, so the builder names the mismatch.
  if (mine.length === 0) return [{ dtypes: [...chosen], options: { ...nbits, ...name } }];
  // The name goes with the method's job: it is the file the user is making.
  return [
    ...(rest.length > 0 ? [{ dtypes: rest, options: common }] : []),
    { dtypes: mine, options: { ...nbits, ...name } },
  ];
}

/** The calibration fields' ranges (tokens past a million, or a window past 32k positions, is a typo). */
export const CALIB_FIELDS = {
  tokens: {
    label: 'Calibration tokens',
    min: MIN_CALIB_WINDOW,
    max: 1_048_576,
    integer: true,
    default: DEFAULT_CALIB_TOKENS,
  },
  window: {
    label: 'Calibration window',
    min: MIN_CALIB_WINDOW,
    max: 32_768,
    integer: true,
    default: DEFAULT_CALIB_WINDOW,
  },
} as const;

/** What is wrong with the two fields together (fewer tokens than one window), or undefined. */
export function calibrationProblem(tokens: number, window: number): string | undefined {
  return tokens < window
    ? `Calibration tokens ${tokens} is fewer than one window of ${window}: give at least ${window} tokens, or a shorter window.`
    : undefined;
}

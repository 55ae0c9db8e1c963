// The calibration flags of the commands that read a calibration text (quantize with gptq, awq or
// --budget; sensitivity): one set, --calib, --calib-tokens and --calib-window, one help text, and
// the text read through src/node/calibration.ts.

import { QuantlabError } from '../lib/errors';
import { DEFAULT_CALIB_WINDOW, MIN_CALIB_WINDOW, type CalibrationCut } from '../lib/quantize/calibration';
import { BUILTIN_CALIBRATION, readCalibration } from '../node/calibration';
import type { FlagSpecs } from './args';

export const CALIBRATION_FLAGS = {
  calib: { type: 'string' },
  'calib-tokens': { type: 'int', min: MIN_CALIB_WINDOW },
  'calib-window': { type: 'int', min: MIN_CALIB_WINDOW },
} as const satisfies FlagSpecs;

export interface CalibrationFlagValues {
  calib?: string;
  'calib-tokens'?: number;
  'calib-window'?: number;
}

/** The help lines of CALIBRATION_FLAGS; `tokensDefault` says the command's default token count. */
export function calibrationHelp(tokensDefault: string): string {
  return `  --calib FILE|${BUILTIN_CALIBRATION}  UTF-8 calibration text, or ${BUILTIN_CALIBRATION} (QuantLab's calibration sample,
                        src/lib/quantize/calibration-sample.ts, not the lab's evaluation text);
                        evaluate on a different text from the one you calibrate on
  --calib-tokens N      use at most the first N tokens of it (${tokensDefault})
  --calib-window N      tokens per calibration window, ${MIN_CALIB_WINDOW} to the model's positions (default
                        min(${DEFAULT_CALIB_WINDOW}, the model's positions))`;
}

/** The --calib text of model folder `dir` (absolute) cut into windows; a named error when --calib is missing. */
export function calibrationFromFlags(
  dir: string,
  v: CalibrationFlagValues,
  defaults: { tokens: number; maxPositions?: number },
): CalibrationCut {
  if (typeof v.calib !== 'string') {
    throw new QuantlabError(
      'bad-argument',
      'No calibration text: --calib <file> is needed',
      `Give a UTF-8 text file, or --calib ${BUILTIN_CALIBRATION}.`,
    );
  }
  return readCalibration(dir, v.calib, {
    tokens: v['calib-tokens'] ?? defaults.tokens,
    window: v['calib-window'],
    maxPositions: defaults.maxPositions,
  });
}

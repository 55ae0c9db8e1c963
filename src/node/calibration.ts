// Calibration in Node: the one reader of a calibration text (a file, or the built-in sample),
// tokenized with the model folder's own tokenizer files as the builder worker does, and cut into
// windows; and onnxruntime-node (the runtime transformers.js uses in Node) to run the pieces of
// graph that capture each linear layer's inputs.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { QuantlabError } from '../lib/errors';
import type { OrtTensor } from '../lib/onnx/session';
import {
  cutCalibration,
  type CalibRuntime,
  type CalibrationCut,
  type CalibrationSettings,
  type CalibrationText,
} from '../lib/quantize/calibration';
import { CALIBRATION_TEXT } from '../lib/quantize/calibration-sample';
import { encodeCalibrationText } from '../lib/quantize/calibration-tokenizer';
import { nodeJobPool } from './job-pool';

/** onnxruntime-node sessions from model bytes, all graph optimisations on; GPTQ's and AWQ's loops on a pool of this thread and a worker. */
export const nodeCalibRuntime: CalibRuntime = {
  pool: nodeJobPool(),
  createSession: async (bytes) => {
    const s = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', executionProviders: ['cpu'] });
    return {
      run: (feeds) => s.run(feeds as Record<string, ort.Tensor>) as Promise<Record<string, OrtTensor>>,
      release: () => s.release(),
    };
  },
  tensor: (type, data, dims) => new ort.Tensor(type as 'float32', data as Float32Array, dims) as unknown as OrtTensor,
};

/** The --calib value that means the built-in calibration text (CALIBRATION_TEXT). */
export const BUILTIN_CALIBRATION = 'builtin';

/** The text of `source`: the built-in sample for 'builtin', else the UTF-8 file (byte-order mark dropped). */
export function readCalibrationText(source: string): string {
  if (source === BUILTIN_CALIBRATION) return CALIBRATION_TEXT;
  if (!existsSync(source)) {
    throw new QuantlabError(
      'bad-argument',
      `Calibration file ${source} does not exist`,
      `Give a UTF-8 text file, or --calib ${BUILTIN_CALIBRATION}.`,
    );
  }
  try {
    return readFileSync(source, 'utf8').replace(/^\uFEFF/, '');
  } catch (err) {
    throw new QuantlabError(
      'bad-argument',
      `Cannot read calibration file ${source}: ${(err as Error).message}`,
      'Give a readable UTF-8 text file.',
    );
  }
}

/**
 * Reads the calibration text `source` (a file path, or 'builtin'), tokenizes it with the
 * tokenizer of model folder `dir` and cuts it into windows (cutCalibration: named errors for an
 * empty or too short text and a window or token count out of range).
 */
export function readCalibration(dir: string, source: string, settings: CalibrationSettings = {}): CalibrationCut {
  return cutCalibration(tokenize(dir, readCalibrationText(source)), settings);
}

/** The text tokenized with the folder's tokenizer.json and tokenizer_config.json. */
function tokenize(dir: string, text: string): CalibrationText {
  const read = (name: string) => {
    const path = join(dir, name);
    return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as object) : undefined;
  };
  const json = read('tokenizer.json');
  if (!json) throw new QuantlabError('bad-tokenizer', `${dir} has no tokenizer.json to read the calibration text with`);
  return encodeCalibrationText(json, read('tokenizer_config.json') ?? {}, text);
}

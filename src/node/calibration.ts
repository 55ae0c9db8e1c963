// Calibration in Node: the calibration text read from a file and tokenized with the model
// folder's own tokenizer, and onnxruntime-node (the runtime transformers.js uses in Node) to run
// the pieces of graph that capture each linear layer's inputs.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { QuantlabError } from '../lib/errors';
import type { OrtTensor } from '../lib/onnx/session';
import {
  calibrationWindows,
  type CalibRuntime,
  type CalibrationSettings,
  type CalibrationText,
} from '../lib/quantize/calibration';
import { CALIBRATION_TEXT } from '../lib/quantize/calibration-sample';
import { encodeCalibrationText } from '../lib/quantize/calibration-tokenizer';

/** onnxruntime-node sessions from model bytes, all graph optimisations on. */
export const nodeCalibRuntime: CalibRuntime = {
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

/** Reads the text file `path` (or takes the built-in text for 'builtin') and cuts it into calibration windows with the tokenizer of model folder `dir`. */
export async function nodeCalibrationWindows(
  dir: string,
  path: string,
  settings: CalibrationSettings,
): Promise<number[][]> {
  if (path === BUILTIN_CALIBRATION) return calibrationWindows(tokenize(dir, CALIBRATION_TEXT), settings);
  if (!existsSync(path)) {
    throw new QuantlabError('bad-argument', `Calibration file ${path} does not exist`, 'Give a plain text file.');
  }
  return calibrationWindows(tokenize(dir, readFileSync(path, 'utf8')), settings);
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

// onnxruntime-node as the OrtRuntime of measurements that run their own session (layer
// sensitivity's weight-swap graph), imported on first use like the benchmark's floor.

import { QuantlabError } from '../lib/errors';
import type { OrtSession, TensorCtor } from '../lib/onnx/session';
import type { OrtRuntime } from '../lib/quantize/weight-swap';

interface OrtNodeModule {
  InferenceSession: {
    create(bytes: Uint8Array, options?: object): Promise<OrtSession & { release(): Promise<void> }>;
  };
  Tensor: TensorCtor;
}

/** onnxruntime-node's CPU backend, all graph optimisations on (as transformers.js sets them). */
export async function nodeOrtRuntime(): Promise<OrtRuntime> {
  let ort: OrtNodeModule;
  try {
    const mod = (await import('onnxruntime-node')) as unknown as OrtNodeModule & { default?: OrtNodeModule };
    ort = mod.InferenceSession ? mod : mod.default!;
  } catch (err) {
    throw new QuantlabError(
      'unsupported-device',
      `onnxruntime-node could not be loaded (${(err as Error).message.split('\n')[0]})`,
      'Install it with `npm install --save-dev onnxruntime-node@1.30.0` (the version transformers.js uses).',
    );
  }
  return {
    Tensor: ort.Tensor,
    createSession: (bytes) =>
      ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', executionProviders: ['cpu'] }),
  };
}

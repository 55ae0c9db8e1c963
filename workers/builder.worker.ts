// Turns what the user opens (llama2.c checkpoint, Hugging Face folder, transformers.js folder)
// into a stored model folder, off the page's thread, with progress and cancellation.
import { QuantlabError, throwIfAborted } from '../src/lib/errors';
import { classifyFiles } from '../src/lib/import/classify';
import { checkDecoderModel } from '../src/lib/onnx/check';
import { hfSource, llama2cSource } from '../src/lib/import/sources';
import { buildModelFolder, yieldToEventLoop } from '../src/lib/model/folder';
import { slugify } from '../src/lib/model/ref';
import { serve } from '../src/browser/rpc';
import {
  addModelFiles,
  deleteModel,
  listModels,
  readModelFile,
  saveModel,
  type FileData,
  type StoredModelInfo,
} from '../src/browser/opfs-store';
import { externalDataFiles, loadExternalData, staleDataFiles } from '../src/lib/onnx/external-data';
import { decodeModel } from '../src/lib/onnx/proto';
import { planWindows } from '../src/lib/metrics/windows';
import { measureSensitivity, measuredTargets, resolveSensitivitySpec } from '../src/lib/quantize/sensitivity';
import { checkSensitivityPlan, describeSensitivity, planSensitivity } from '../src/lib/quantize/sensitivity-plan';
import type { OrtRuntime } from '../src/lib/quantize/weight-swap';
import { checkCalibration, expandRequests, quantizeVariants } from '../src/lib/quantize/quantize-variants';
import {
  DEFAULT_CALIB_TOKENS,
  DEFAULT_SENSITIVITY_CALIB_TOKENS,
  cutCalibration,
  timeLeft,
  type CalibRuntime,
} from '../src/lib/quantize/calibration';
import { encodeCalibrationText } from '../src/lib/quantize/calibration-tokenizer';
import type { OrtSession, OrtTensor, TensorCtor } from '../src/lib/onnx/session';
import { ortWasmPaths } from '../src/lib/page/ort-assets';
import { wasmThreads } from '../src/browser/wasm-threads';
import * as ort from 'onnxruntime-web/webgpu';
import { MANIFEST_PATH, encodeManifest, parseManifest } from '../src/lib/variants/manifest';
import { sameTextTag } from '../src/lib/eval/lab-charts';
import type { QuantizeOptions } from '../src/lib/variants/options';
import { FP32_PATH } from '../src/lib/variants/table';
import type {
  BuilderApi,
  BuilderProgress,
  BuildStep,
  CalibrationRequest,
  PickedFile,
  SensitivityRequest,
} from './protocol';

let current: AbortController | undefined;

async function bytesOf(f: File): Promise<Uint8Array> {
  return new Uint8Array(await f.arrayBuffer());
}

function checkJson(bytes: Uint8Array, path: string): void {
  try {
    JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new QuantlabError(
      'bad-config',
      `${path} is not valid JSON.`,
      'Open the model folder as it was exported, or export it again.',
    );
  }
}

async function importFiles(
  picked: PickedFile[],
  onProgress: (p: BuilderProgress) => void,
  signal: AbortSignal,
): Promise<StoredModelInfo> {
  const plan = classifyFiles(picked.map((p) => ({ path: p.path, size: p.file.size, file: p.file })));
  const taken = new Set((await listModels()).map((m) => m.id));
  let id = slugify(plan.name);
  for (let i = 2; taken.has(id); i++) id = `${slugify(plan.name)}-${i}`;
  const report = (step: BuildStep, message: string, fraction: number) => onProgress({ step, message, fraction });
  let files: Map<string, FileData>;
  let source: string;
  if (plan.kind === 'onnx') {
    files = new Map();
    // The files beside each .onnx (name -> bytes): its .onnx_data files must be among them.
    const besideOf = (path: string) => {
      const dir = path.slice(0, path.lastIndexOf('/') + 1);
      const names = [...plan.files].filter(([p]) => p.startsWith(dir) && !p.slice(dir.length).includes('/'));
      return new Map(names.map(([p, f]) => [p.slice(dir.length), f.size]));
    };
    let i = 0;
    for (const [path, f] of plan.files) {
      throwIfAborted(signal);
      if (/\.onnx_data(_\d+)?$/.test(path)) {
        // Weights: stored as they are, streamed from the file (they may be gigabytes), never held whole.
        files.set(path, f.file);
        i++;
        continue;
      }
      report('read', `Reading ${path}`, (0.8 * i++) / plan.files.size);
      const bytes = await bytesOf(f.file);
      // Checked at the door: a file the runner cannot use is refused here, naming the file,
      // rather than stored and failing on Generate.
      if (path.endsWith('.onnx')) {
        report('read', `Checking ${path}`, (0.8 * i) / plan.files.size);
        await yieldToEventLoop();
        checkDecoderModel(bytes, path, besideOf(path));
      } else if (/^(config|generation_config|tokenizer|tokenizer_config)\.json$/.test(path)) {
        checkJson(bytes, path);
      }
      files.set(path, bytes);
    }
    source = 'transformers.js folder';
  } else {
    let src;
    if (plan.kind === 'llama2c') {
      report('read', `Reading ${plan.checkpoint.path} and ${plan.tokenizer.path}`, 0.05);
      const [ckpt, tok] = await Promise.all([bytesOf(plan.checkpoint.file), bytesOf(plan.tokenizer.file)]);
      throwIfAborted(signal);
      report('convert', 'Converting the llama2.c checkpoint and tokenizer', 0.2);
      await yieldToEventLoop();
      src = llama2cSource(ckpt, tok, { checkpoint: plan.checkpoint.path, tokenizer: plan.tokenizer.path });
      source = `llama2.c ${plan.checkpoint.path}`;
    } else {
      const read = async (p: string) => {
        const f = plan.files.get(p);
        return f ? bytesOf(f.file) : undefined;
      };
      src = await hfSource(read, {
        signal,
        onProgress: (p) =>
          report(
            'convert',
            `Converting ${p.file} (${p.loaded}/${p.total} tensors)`,
            0.05 + (0.45 * p.loaded) / p.total,
          ),
      });
      source = 'Hugging Face safetensors';
    }
    files = await buildModelFolder(src, {
      signal,
      onProgress: (p) => p.status !== 'done' && report('build', p.message, p.status === 'build' ? 0.55 : 0.7),
    });
  }
  throwIfAborted(signal);
  report('save', `Saving ${files.size} files in browser storage`, 0.85);
  const info = await saveModel({ id, name: plan.name, source }, files, signal);
  report('done', `Saved ${id}`, 1);
  return info;
}

/** Runs one task at a time: a new one cancels the one in flight. */
async function task<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  current?.abort();
  const ctrl = new AbortController();
  current = ctrl;
  try {
    return await fn(ctrl.signal);
  } finally {
    if (current === ctrl) current = undefined;
  }
}

/** onnxruntime-web sessions for the calibration pieces, on WASM with the app's files and threads. */
const webCalibRuntime: CalibRuntime = {
  async createSession(bytes) {
    ort.env.wasm.wasmPaths = ortWasmPaths();
    ort.env.wasm.numThreads = wasmThreads();
    const s = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], logSeverityLevel: 3 });
    return {
      run: (feeds) => s.run(feeds as Record<string, ort.Tensor>) as Promise<Record<string, OrtTensor>>,
      release: () => s.release(),
    };
  },
  tensor: (type, data, dims) => new ort.Tensor(type as 'float32', data as Float32Array, dims) as unknown as OrtTensor,
};

/** The same runtime as the measurements' OrtRuntime (layer sensitivity's weight-swap session). */
const webOrtRuntime: OrtRuntime = {
  Tensor: ort.Tensor as unknown as TensorCtor,
  async createSession(bytes) {
    ort.env.wasm.wasmPaths = ortWasmPaths();
    ort.env.wasm.numThreads = wasmThreads();
    const s = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], logSeverityLevel: 3 });
    return s as unknown as OrtSession & { release(): Promise<void> };
  },
};

/** The calibration text read with the stored model's tokenizer and cut into windows (CLI's rules and errors). */
async function calibrationText(id: string, c: CalibrationRequest, defaultTokens = DEFAULT_CALIB_TOKENS) {
  const json = async (path: string) => {
    const f = await readModelFile(id, path);
    return f ? (JSON.parse(await f.text()) as object) : undefined;
  };
  const tokenizer = await json('tokenizer.json');
  if (!tokenizer)
    throw new QuantlabError('bad-tokenizer', `Model ${id} has no tokenizer.json to read the calibration text with`);
  const text = encodeCalibrationText(tokenizer, (await json('tokenizer_config.json')) ?? {}, c.text);
  const config = (await json('config.json')) as { max_position_embeddings?: number } | undefined;
  return cutCalibration(text, {
    tokens: c.tokens ?? defaultTokens,
    window: c.window,
    maxPositions: config?.max_position_embeddings,
  });
}

/** The calibration text cut into windows with the stored model's tokenizer. */
async function calibrationOf(id: string, c: CalibrationRequest): Promise<number[][]> {
  return (await calibrationText(id, c)).windows;
}

/** A stored model's fp32 graph with its .onnx_data tensors loaded (the measurement needs every weight). */
async function readFp32(id: string) {
  const source = await readModelFile(id, FP32_PATH);
  if (!source) throw new QuantlabError('bad-argument', `Model ${id} has no onnx/model.onnx to measure`);
  const model = decodeModel(await bytesOf(source), FP32_PATH);
  const names = externalDataFiles(model, FP32_PATH);
  if (names.length > 0) {
    const data = new Map<string, Uint8Array>();
    for (const n of names) {
      const f = n.includes('/') ? undefined : await readModelFile(id, `onnx/${n}`);
      if (f) data.set(n, await bytesOf(f));
    }
    loadExternalData(model, data, FP32_PATH);
  }
  return model;
}

async function sensitivity(
  id: string,
  request: SensitivityRequest,
  c: CalibrationRequest,
  onProgress: (p: BuilderProgress) => void,
  signal: AbortSignal,
) {
  const spec = resolveSensitivitySpec(request);
  onProgress({ step: 'read', message: 'Reading onnx/model.onnx and the calibration text', fraction: 0 });
  // The same cut as the CLI's sensitivity: the first `tokens` tokens (256 by default), in windows.
  const { ids, bos, window: ctx } = await calibrationText(id, c, DEFAULT_SENSITIVITY_CALIB_TOKENS);
  const model = await readFp32(id);
  throwIfAborted(signal);
  const plan = planSensitivity(
    measuredTargets(model, spec.keepLmHead).length,
    spec.bits.length,
    planWindows(ids, ctx, bos).length,
    ctx,
  );
  checkSensitivityPlan(plan);
  const about = `Plan: ${describeSensitivity(plan)}`;
  onProgress({ step: 'measure', message: about, fraction: 0.02 });
  const started = performance.now();
  const report = await measureSensitivity({
    model,
    ids,
    bos,
    ctx,
    ...spec,
    runtime: webOrtRuntime,
    signal,
    onProgress: (p) => {
      const fraction = p.total > 0 ? p.done / p.total : 0;
      onProgress({
        step: 'measure',
        message: p.weight ? `${p.weight} at ${p.bits} bits (${p.done + 1} of ${p.total} runs)` : about,
        fraction: 0.02 + 0.97 * fraction,
        secondsLeft: timeLeft(started, fraction),
      });
    },
  });
  onProgress({ step: 'done', message: `Measured ${report.entries.length} runs of ${id}`, fraction: 1 });
  return report;
}

async function quantize(
  id: string,
  dtypes: string[],
  options: Omit<QuantizeOptions, 'dtype'>,
  onProgress: (p: BuilderProgress) => void,
  signal: AbortSignal,
  calibrationRequest?: CalibrationRequest,
): Promise<StoredModelInfo> {
  const requests = expandRequests(dtypes, options);
  const calibration = calibrationRequest
    ? { windows: await calibrationOf(id, calibrationRequest), runtime: webCalibRuntime }
    : undefined;
  checkCalibration(requests, calibration);
  const source = await readModelFile(id, FP32_PATH);
  if (!source) throw new QuantlabError('bad-argument', `Model ${id} has no onnx/model.onnx to quantize`);
  onProgress({ step: 'read', message: 'Reading onnx/model.onnx', fraction: 0 });
  const started = performance.now();
  const previous = parseManifest(await readModelFile(id, MANIFEST_PATH).then((f) => (f ? bytesOf(f) : undefined)));
  const result = await quantizeVariants(await bytesOf(source), requests, previous, {
    signal,
    // The source's .onnx_data files, beside it in onnx/ (a name with a path never matches one).
    readData: async (name) => {
      const f = name.includes('/') ? undefined : await readModelFile(id, `onnx/${name}`);
      return f ? bytesOf(f) : undefined;
    },
    calibration,
    onProgress: (p) =>
      onProgress({
        step: 'convert',
        message: `${p.file}: ${p.tensor}`,
        fraction: 0.9 * p.fraction,
        ...(calibration ? { secondsLeft: timeLeft(started, p.fraction) } : {}),
      }),
  });
  throwIfAborted(signal);
  if (calibrationRequest) {
    // The files made from the text say which text: the lab names it and warns when it evaluates on it.
    const calibration = {
      name: calibrationRequest.name ?? 'calibration text',
      tag: sameTextTag(calibrationRequest.text),
    };
    const manifest = {
      ...result.manifest,
      variants: result.manifest.variants.map((e) => (result.files.has(`onnx/${e.file}`) ? { ...e, calibration } : e)),
    };
    result.files.set(MANIFEST_PATH, encodeManifest(manifest));
  }
  const variants = [...result.files.keys()].filter((p) => p.endsWith('.onnx')).length;
  onProgress({ step: 'save', message: `Saving ${variants} variant${variants === 1 ? '' : 's'}`, fraction: 0.92 });
  const stored = (await listModels()).find((m) => m.id === id)?.files.map((f) => f.path) ?? [];
  const info = await addModelFiles(id, result.files, staleDataFiles(stored, result.files.keys()));
  onProgress({ step: 'done', message: `Quantized ${id}`, fraction: 1 });
  return info;
}

const api = {
  importFiles(picked: PickedFile[], onProgress: (p: BuilderProgress) => void = () => {}) {
    return task((signal) => importFiles(picked, onProgress, signal));
  },
  quantize(
    id: string,
    dtypes: string[],
    options: Omit<QuantizeOptions, 'dtype'>,
    onProgress: (p: BuilderProgress) => void = () => {},
    calibration?: CalibrationRequest,
  ) {
    return task((signal) => quantize(id, dtypes, options, onProgress, signal, calibration));
  },
  sensitivity(
    id: string,
    request: SensitivityRequest,
    calibration: CalibrationRequest,
    onProgress: (p: BuilderProgress) => void = () => {},
  ) {
    return task((signal) => sensitivity(id, request, calibration, onProgress, signal));
  },
  cancel(): void {
    current?.abort();
  },
  list(): Promise<StoredModelInfo[]> {
    return listModels();
  },
  async remove(id: string): Promise<void> {
    if (!id) throw new QuantlabError('bad-argument', 'No model id');
    await deleteModel(id);
  },
} satisfies BuilderApi;

serve(api);

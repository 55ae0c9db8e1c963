// `quantlab bench --forms`: the 4-bit forms table (src/lib/bench/forms.ts). Each form's file is
// the quantizer's file for its weights, or a copy with MatMulNBits' accuracy_level set, written to
// a scratch folder; each is timed with the floor loop (a raw ONNX Runtime session) in Node and in
// the bench page's floor worker on WASM or WebGPU, one form after another.

import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { AutoTokenizer } from '@huggingface/transformers';
import { QuantlabError } from '../lib/errors';
import { bytesReadPerToken } from '../lib/bench/bandwidth';
import type { FloorResult } from '../lib/bench/floor';
import { floorDecode } from '../lib/bench/floor';
import {
  chooseDefaults,
  formRow,
  formStem,
  weightsStem,
  type FormRow,
  type FormRun,
  type FormRuntime,
  type FormSpec,
  type FormsReport,
} from '../lib/bench/forms';
import { MAX_ROUNDS } from '../lib/bench/measure';
import { buildPrompt } from '../lib/bench/prompt';
import { setAccuracyLevel } from '../lib/forms/accuracy-level';
import { kvCacheLayout, type TensorCtor } from '../lib/onnx/session';
import { decodeModel, encodeModel } from '../lib/onnx/proto';
import { FP32_STEM } from '../lib/variants/table';
import { loadOrtNode } from './bench-node';
import { openBenchPage, requireAdapter } from './bench-browser';
import { isSoftwareAdapter } from '../lib/bench/webgpu';
import { configureNodeTransformers } from './transformers-env';

export interface FormsOptions {
  runtimes: FormRuntime[];
  forms: readonly FormSpec[];
  runs: number;
  minMs: number;
  promptTokens: number;
  newTokens: number;
  /** browser runtimes: the built site. */
  siteDir?: string;
  threads?: number;
  log?: (line: string) => void;
}

/** The `quantlab quantize` flags that write a form's weights. */
export function quantizeFlags(f: FormSpec): string {
  const w = f.weights;
  return [
    `--dtype ${w.dtype}`,
    ...(w.bits === 8 ? ['--bits 8'] : []),
    ...(w.blockSize ? [`--block-size ${w.blockSize}`] : []),
    ...(w.symmetric === false ? ['--asym'] : []),
  ].join(' ');
}

/** Refuses forms whose weights' file is missing, with the commands that write them. */
export function requireFormWeights(dir: string, forms: readonly FormSpec[]): void {
  const missing = new Map<string, FormSpec>();
  for (const f of forms) {
    const stem = weightsStem(f);
    try {
      statSync(join(dir, 'onnx', `${stem}.onnx`));
    } catch {
      missing.set(stem, f);
    }
  }
  if (missing.size)
    throw new QuantlabError(
      'bad-argument',
      `--forms needs ${[...missing.keys()].map((s) => `onnx/${s}.onnx`).join(', ')} in ${dir}`,
      `Write them with ${[...missing.values()].map((f) => `\`quantlab quantize ${dir} ${quantizeFlags(f)}\``).join(', ')}.`,
    );
}

/** Warm-up, then runs until `runs` and `minMs` are both met (at most MAX_ROUNDS). */
async function timeRuns(run: () => Promise<FloorResult>, runs: number, minMs: number): Promise<FormRun[]> {
  await run();
  const out: FormRun[] = [];
  const t0 = performance.now();
  while (out.length < runs || (out.length < MAX_ROUNDS && performance.now() - t0 < minMs)) out.push(await run());
  return out;
}

export async function benchForms(dir: string, o: FormsOptions): Promise<FormsReport> {
  requireFormWeights(dir, o.forms);
  const before = os.loadavg()[0];
  const scratch = mkdtempSync(join(os.tmpdir(), 'quantlab-forms-'));
  try {
    mkdirSync(join(scratch, 'onnx'));
    const sizes = new Map<string, { fileBytes: number; bytesPerToken: number }>();
    const stems = new Set([FP32_STEM, ...o.forms.map(weightsStem)]);
    for (const stem of stems) {
      const file = join(dir, 'onnx', `${stem}.onnx`);
      symlinkSync(file, join(scratch, 'onnx', `${stem}.onnx`));
      const bytes = readFileSync(file);
      sizes.set(stem, { fileBytes: bytes.byteLength, bytesPerToken: bytesReadPerToken(decodeModel(bytes)) });
    }
    for (const f of o.forms) {
      if (f.accuracyLevel === 0) continue;
      const m = decodeModel(readFileSync(join(dir, 'onnx', `${weightsStem(f)}.onnx`)));
      if (setAccuracyLevel(m, f.accuracyLevel) === 0)
        throw new QuantlabError('internal', `form ${f.name}: its weights' graph has no MatMulNBits node`);
      const bytes = encodeModel(m);
      writeFileSync(join(scratch, 'onnx', `${formStem(f)}.onnx`), bytes);
      sizes.set(formStem(f), { fileBytes: bytes.byteLength, bytesPerToken: sizes.get(weightsStem(f))!.bytesPerToken });
    }
    configureNodeTransformers({ allowRemote: false });
    const tok = await AutoTokenizer.from_pretrained(dir);
    const prompt = await buildPrompt(
      { encode: (t) => Array.from(tok.encode(t)), decode: (ids) => tok.decode(ids, { skip_special_tokens: true }) },
      o.promptTokens,
    );
    const rows: FormRow[] = [];
    for (const runtime of o.runtimes) rows.push(...(await formsOn(runtime, scratch, prompt.ids, sizes, o)));
    return { rows, defaults: chooseDefaults(rows), load_average: { before, after: os.loadavg()[0] } };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

type Timer = (stem: string) => Promise<{ loadMs: number; run: () => Promise<FloorResult>; close: () => Promise<void> }>;

/** Every form on one runtime, fp32 first (its ids are the as-fp32 reference). */
async function formsOn(
  runtime: FormRuntime,
  scratch: string,
  promptIds: number[],
  sizes: Map<string, { fileBytes: number; bytesPerToken: number }>,
  o: FormsOptions,
): Promise<FormRow[]> {
  let correctnessOnly = false;
  const { timer, close } = await openTimer(runtime, scratch, o);
  try {
    const once = async (stem: string) => {
      const t = await timer(stem);
      try {
        return (await t.run()).ids;
      } finally {
        await t.close();
      }
    };
    const fp32Ids = await once(FP32_STEM);
    const level0 = new Map<string, number[]>();
    const rows: FormRow[] = [];
    for (const f of o.forms) {
      const t = await timer(formStem(f));
      try {
        const runs = await timeRuns(t.run, o.runs, o.minMs);
        const w = weightsStem(f);
        if (f.accuracyLevel === 0) level0.set(w, runs[0].ids);
        // A level-0 form not in the list: its ids from one run of the weights' own file.
        if (!level0.has(w)) level0.set(w, await once(w));
        rows.push(formRow(f, runtime, { ...sizes.get(formStem(f))!, loadMs: t.loadMs }, runs, level0.get(w)!, fp32Ids));
        if (correctnessOnly) rows[rows.length - 1].correctness_only = true;
        const r = rows.at(-1)!;
        o.log?.(
          `${runtime} ${f.name}: decode ${r.decode_tokens_per_s.toFixed(1)} tok/s, prefill ${r.prefill_tokens_per_s.toFixed(0)} tok/s${r.token_exact ? '' : ', NOT token-exact'}`,
        );
      } finally {
        await t.close();
      }
    }
    return rows;
  } finally {
    await close();
  }

  async function openTimer(
    rt: FormRuntime,
    folder: string,
    opts: FormsOptions,
  ): Promise<{ timer: Timer; close: () => Promise<void> }> {
    if (rt === 'node') {
      const ort = await loadOrtNode();
      return {
        timer: async (stem) => {
          const t0 = performance.now();
          const s = await ort.InferenceSession.create(join(folder, 'onnx', `${stem}.onnx`), {
            executionProviders: ['cpu'],
            logSeverityLevel: 3,
          });
          const loadMs = performance.now() - t0;
          const layout = kvCacheLayout(s);
          return {
            loadMs,
            run: () => floorDecode(ort.Tensor as TensorCtor, s, layout, promptIds, opts.newTokens),
            close: () => s.release(),
          };
        },
        close: async () => {},
      };
    }
    if (!opts.siteDir) throw new QuantlabError('internal', `${rt} forms need the built site`);
    const b = await openBenchPage(opts.siteDir, folder);
    const device = rt === 'browser-webgpu' ? 'webgpu' : 'wasm';
    if (device === 'webgpu') correctnessOnly = isSoftwareAdapter(await requireAdapter(b.page));
    return {
      timer: async (stem) => {
        const f = await b.page.loadFloor(b.modelFileUrl(stem), undefined, opts.threads, device);
        return {
          loadMs: f.loadMs,
          run: () => b.page.runFloor(promptIds, opts.newTokens) as Promise<FloorResult>,
          close: async () => {},
        };
      },
      close: async () => {
        await b.page.disposeAll();
        await b.close();
      },
    };
  }
}

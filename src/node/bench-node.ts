// The node side of `quantlab bench`: the runner (transformers.js session on device cpu, our decode
// loop) against the floor (a raw onnxruntime-node session on the same file), interleaved, with
// this process's peak RSS sampled while they run.

import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { QuantlabError } from '../lib/errors';
import { floorDecode } from '../lib/bench/floor';
import {
  kvCacheLayout,
  type KvCacheLayout,
  type OrtInputMeta,
  type OrtSession,
  type TensorCtor,
} from '../lib/onnx/session';
import {
  greedyParams,
  measureConcurrency,
  measureInterleaved,
  runnerRunOf,
  type BenchCase,
  type ConcurrencyCase,
  type RunnerRun,
} from '../lib/bench/measure';
import { buildPrompt } from '../lib/bench/prompt';
import {
  benchRow,
  concurrencyResult,
  type BenchReport,
  type BenchRow,
  type ConcurrencyResult,
  settleOf,
} from '../lib/bench/report';
import { Runner } from '../lib/runner/runner';
import type { GenerateParams } from '../lib/runner/types';
import { PeakSampler, processRss } from './memory';
import { configureNodeTransformers } from './transformers-env';

interface OrtNode {
  InferenceSession: {
    create(
      path: string,
      options?: object,
    ): Promise<OrtSession & { inputMetadata: readonly OrtInputMeta[]; release(): Promise<void> }>;
  };
  Tensor: unknown;
  env?: { versions?: { node?: string } };
}

/** onnxruntime-node, imported only when the node runtime is benchmarked (it is a devDependency). */
export async function loadOrtNode(): Promise<OrtNode> {
  try {
    const mod = (await import('onnxruntime-node')) as unknown as OrtNode & { default?: OrtNode };
    return mod.InferenceSession ? mod : mod.default!;
  } catch (err) {
    throw new QuantlabError(
      'unsupported-device',
      `onnxruntime-node could not be loaded (${(err as Error).message.split('\n')[0]}); the node runtime's floor loop needs it`,
      'Install it with `npm install --save-dev onnxruntime-node@1.30.0` (the version transformers.js uses), or benchmark only --runtimes browser-wasm.',
    );
  }
}

/** Generates with a runner and checks the prompt had the asked number of tokens. */
async function run(runner: Runner, params: GenerateParams, promptTokens: number): Promise<RunnerRun> {
  const g = await runner.generate(params);
  if (g.promptIds.length !== promptTokens)
    throw new QuantlabError('internal', `the runner read ${g.promptIds.length} prompt tokens, not ${promptTokens}`);
  return runnerRunOf(g);
}

const QUANTLAB = resolve(import.meta.dirname, '../../bin/quantlab.mjs');
/** Set in the child process that measures one precision, which measures it in-process. */
const CHILD_ENV = 'QUANTLAB_BENCH_CHILD';

/**
 * One row per precision, each measured in a Node process of its own (`quantlab bench` with that
 * one dtype), so its peak memory holds its own sessions only: a process's resident set does not
 * shrink when a session is released, nor after the model building that may precede a benchmark.
 */
export async function nodeBench(c: BenchCase, log?: (line: string) => void): Promise<BenchRow[]> {
  if (process.env[CHILD_ENV] === '1') return nodeBenchHere(c, log);
  const rows: BenchRow[] = [];
  for (const dtype of c.dtypes) {
    const args = [
      QUANTLAB,
      'bench',
      c.dir,
      '--dtypes',
      dtype,
      '--runtimes',
      'node',
      '--runs',
      String(c.runs),
      '--min-time',
      String(c.minMs / 1000),
      '--max-time',
      String((c.maxMs ?? 0) / 1000),
      '--loads',
      String(c.loads ?? 1),
      '--prompt-tokens',
      String(c.promptTokens),
      '--new-tokens',
      String(c.newTokens),
      '--json',
    ];
    const child = await new Promise<{ code: number | null; out: string; err: string }>((done, fail) => {
      const p = spawn(process.execPath, args, {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, [CHILD_ENV]: '1' },
      });
      let out = '';
      let err = '';
      p.stdout.on('data', (d) => (out += d));
      p.stderr.on('data', (d) => (err += d));
      p.on('error', fail);
      p.on('close', (code) => done({ code, out, err }));
    });
    if (child.code !== 0) {
      const why = child.err.trim().replace(/^quantlab bench: /, '') || `exit code ${child.code}`;
      throw new QuantlabError('internal', `node ${dtype}: ${why}`);
    }
    const row = (JSON.parse(child.out) as BenchReport).results[0];
    rows.push(row);
    log?.(
      `node ${dtype}: decode ${row.decode_tokens_per_s.toFixed(1)} tok/s, floor ${row.floor_decode_tokens_per_s.toFixed(1)} tok/s (${row.runs} runs, own process)`,
    );
  }
  return rows;
}

/** The precisions in this process: a fresh Runner and floor session each, released afterwards. */
async function nodeBenchHere(c: BenchCase, log?: (line: string) => void): Promise<BenchRow[]> {
  const ort = await loadOrtNode();
  configureNodeTransformers({ allowRemote: false });
  const sampler = new PeakSampler(processRss, 50).start();
  const rows: BenchRow[] = [];
  try {
    for (const [k, dtype] of c.dtypes.entries()) {
      const stem = c.stems[k];
      const runner = new Runner();
      let session: Awaited<ReturnType<OrtNode['InferenceSession']['create']>> | undefined;
      let shape: KvCacheLayout | undefined;
      let params: GenerateParams | undefined;
      let runnerPeak = 0;
      sampler.reset();
      try {
        const m = await measureInterleaved(
          {
            loadRunner: () => runner.load({ modelId: c.dir, variant: stem, device: 'cpu' }),
            runRunner: async () => {
              params ??= greedyParams((await buildPrompt(runner, c.promptTokens)).prompt, c.newTokens);
              return run(runner, params, c.promptTokens);
            },
            // The first load only: later ones come after a floor has run.
            onRunnerWarm: () => (runnerPeak ||= sampler.peak),
            loadFloor: async () => {
              const t0 = performance.now();
              // The options transformers.js gives the runner's session on device cpu.
              session = await ort.InferenceSession.create(join(c.dir, 'onnx', `${stem}.onnx`), {
                executionProviders: ['cpu'],
                logSeverityLevel: 3,
              });
              const ms = performance.now() - t0;
              shape = kvCacheLayout(session);
              return ms;
            },
            runFloor: (ids, n) => floorDecode(ort.Tensor as TensorCtor, session!, shape!, ids, n),
            unload: async () => {
              await runner.dispose();
              await session?.release();
              session = undefined;
            },
          },
          c.runs,
          c.minMs,
          { settle: settleOf(c), loads: c.loads },
        );
        rows.push(benchRow(dtype, 'node', m, { runnerBytes: runnerPeak, allBytes: sampler.peak }));
        log?.(
          `node ${dtype}: decode ${rows.at(-1)!.decode_tokens_per_s.toFixed(1)} tok/s, floor ${rows.at(-1)!.floor_decode_tokens_per_s.toFixed(1)} tok/s`,
        );
      } finally {
        await runner.dispose();
        await session?.release();
      }
    }
  } finally {
    sampler.stop();
  }
  return rows;
}

/** Runners of several precisions in this process generating at once, against each alone. */
export async function nodeConcurrency(c: ConcurrencyCase, log?: (line: string) => void): Promise<ConcurrencyResult> {
  configureNodeTransformers({ allowRemote: false });
  const runners: Runner[] = [];
  try {
    for (const stem of c.stems) {
      const r = new Runner();
      runners.push(r);
      await r.load({ modelId: c.dir, variant: stem, device: 'cpu' });
    }
    const params = greedyParams((await buildPrompt(runners[0], c.promptTokens)).prompt, c.newTokens);
    log?.(`node concurrency: ${c.dtypes.join(', ')}`);
    const timed = async (i: number) => {
      const startMs = performance.now();
      const g = await runners[i].generate(params);
      return { dtype: c.dtypes[i], tokens: g.ids.length, startMs, endMs: performance.now() };
    };
    const rounds = await measureConcurrency(
      {
        runAlone: async (i) => {
          const t = await timed(i);
          return { dtype: t.dtype, tokens: t.tokens, ms: t.endMs - t.startMs };
        },
        runTogether: () => Promise.all(runners.map((_, i) => timed(i))),
      },
      runners.length,
      c.runs,
      c.minMs,
    );
    return concurrencyResult('node', rounds);
  } finally {
    await Promise.all(runners.map((r) => r.dispose()));
  }
}

// The benchmark's order of work, the same in Node and in the browser: the playground's runner and
// the floor (a raw ONNX Runtime loop on the same file) take turns, runner, floor, floor, runner,
// so whatever else loads the machine slows both alike. The caller supplies the two sides.

import { QuantlabError } from '../errors';
import type { GenerateParams, GenerateResult } from '../runner/types';
import type { FloorResult } from './floor';

/** What to benchmark: one model folder, its precisions (and their file stems), the sizes. */
export interface BenchCase {
  dir: string;
  dtypes: string[];
  /** onnx/<stem>.onnx of each dtype. */
  stems: string[];
  runs: number;
  /**
   * Keep measuring past `runs` until the measured rounds have taken this long (ms), up to
   * MAX_ROUNDS: a tiny model's run lasts milliseconds, and a few of them say little.
   */
  minMs: number;
  /**
   * Then keep measuring until the runs pin the ratio down (see `Settle`), up to this long (ms)
   * in all; 0 or absent: stop after `runs` and `minMs`.
   */
  maxMs?: number;
  /**
   * Loads of both sides per precision (default 1): the rounds are shared out over this many fresh
   * loads, so where a load's copy of the weights lands in memory does not decide the ratio alone.
   */
  loads?: number;
  promptTokens: number;
  newTokens: number;
}
/** Columns generating at once: one per dtype (dtypes may repeat). */
export type ConcurrencyCase = BenchCase;

/** Most measured rounds of one precision, whatever minMs asks. */
export const MAX_ROUNDS = 1000;

/** Whether another measured round is due: fewer than `runs` so far, or less than `minMs` spent. */
function another(done: number, runs: number, minMs: number, startMs: number): boolean {
  return done < runs || (done < MAX_ROUNDS && performance.now() - startMs < minMs);
}

/**
 * The sequential part of a measurement: after `runs` and `minMs`, rounds go on while `settled`
 * says the runs so far do not yet pin the figure down, until `maxMs` have passed in all (at most
 * MAX_ROUNDS). `settled` is asked again each time the rounds have grown by a tenth (a bootstrap
 * over hundreds of tiny-model rounds is not free).
 */
export interface Settle {
  maxMs: number;
  /** `loads[i]`: the load (0, 1, ...) round i ran in. */
  settled(runner: readonly RunnerRun[], floor: readonly FloorResult[], loads: readonly number[]): boolean;
}

export interface MeasureOptions {
  settle?: Settle;
  /** Fresh loads of both sides to share the rounds over (default 1); see BenchCase.loads. */
  loads?: number;
}

/** Greedy generation of exactly the prompt's text, no repetition penalty. */
export function greedyParams(prompt: string, newTokens: number): GenerateParams {
  return { prompt, maxNewTokens: newTokens, temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0 };
}

/** One greedy generation by the runner (or a column worker), timed by the runner itself. */
export interface RunnerRun {
  promptIds: number[];
  /** New ids. */
  ids: number[];
  ttftMs: number;
  prefillTokensPerS: number;
  decodeTokensPerS: number;
  /** Wall time of each decode step after the first token, in ms (absent: not recorded). */
  stepMs?: number[];
  /** How the decode steps kept the KV cache (GenerateTimings.kvPath; absent: not reported). */
  kvPath?: 'host' | 'present';
}

/** The RunnerRun a generation's result reports (the runner's own timings). */
export function runnerRunOf(g: Pick<GenerateResult, 'promptIds' | 'ids' | 'timings'>): RunnerRun {
  const t = g.timings;
  return {
    promptIds: g.promptIds,
    ids: g.ids,
    ttftMs: t.ttftMs,
    prefillTokensPerS: t.prefillTokensPerS,
    decodeTokensPerS: t.decodeTokensPerS,
    stepMs: t.tokenMs,
    ...(t.kvPath ? { kvPath: t.kvPath } : {}),
  };
}

export interface BenchSides {
  /** Loads the runner's session and tokenizer; returns its load time in ms. */
  loadRunner(): Promise<number>;
  /** One greedy generation of the benchmark prompt. */
  runRunner(): Promise<RunnerRun>;
  /** Creates the floor's session on the same file; returns its load time in ms. */
  loadFloor(): Promise<number>;
  /** The floor's greedy loop on the same prompt ids, for as many new tokens as the runner made. */
  runFloor(promptIds: number[], newTokens: number): Promise<FloorResult>;
  /** Called each time the runner is loaded and warmed up, before the floor's session of that load exists. */
  onRunnerWarm?(): void;
  /** Before each load after the first: ends both sides (their workers, sessions and memory). */
  unload?(): Promise<void>;
}

export interface Measurement {
  /** The first load's times. */
  loadMs: number;
  floorLoadMs: number;
  /** Measured runs (the warm-up left out), in order; runner[i] and floor[i] ran back to back. */
  runner: RunnerRun[];
  floor: FloorResult[];
  /** The load (0, 1, ...) each round ran in; absent: all in one. */
  loads?: number[];
}

/**
 * Loads the runner and warms it up (one generation), then loads the floor and warms it up, then
 * rounds of one runner generation and one floor loop on the same prompt ids, in alternating order
 * (runner-floor, floor-runner, runner-floor, ...: ABBA, so a drift in the machine's speed weighs on
 * both sides alike): `runs` rounds, more while they have taken less than `minMs` (at most MAX_ROUNDS),
 * then more under `o.settle` until it is satisfied or its time is up. With `o.loads` = L > 1 the
 * rounds are shared out over L loads: load k (from 0) goes on until the rounds so far reach
 * (k + 1) / L of `runs` and of `minMs`, then both sides are unloaded and loaded again; the last
 * load also takes the rounds `settle` asks for.
 */
export async function measureInterleaved(
  sides: BenchSides,
  runs: number,
  minMs = 0,
  o: MeasureOptions = {},
): Promise<Measurement> {
  if (!Number.isInteger(runs) || runs < 1)
    throw new QuantlabError('bad-argument', `runs must be a whole number >= 1 (got ${runs})`);
  const loadCount = o.loads ?? 1;
  if (!Number.isInteger(loadCount) || loadCount < 1 || loadCount > runs)
    throw new QuantlabError('bad-argument', `loads must be a whole number from 1 to runs (${runs}) (got ${loadCount})`);
  const check = (r: RunnerRun): RunnerRun => {
    if (r.ids.length < 2) {
      throw new QuantlabError(
        'generate-failed',
        `The model stopped after ${r.ids.length} new token(s) (end of sequence), too few to time decoding`,
        'Use another model or a longer --new-tokens; greedy decoding of the benchmark prompt must not end at once.',
      );
    }
    return r;
  };
  const settle = o.settle;
  const runner: RunnerRun[] = [];
  const floor: FloorResult[] = [];
  const loads: number[] = [];
  let loadMs = 0;
  let floorLoadMs = 0;
  // Time spent in measured rounds (loads and warm-ups left out).
  let measuredMs = 0;
  let askedAt = 0;
  for (let load = 0; load < loadCount; load++) {
    if (load > 0) await sides.unload?.();
    const runnerMs = await sides.loadRunner();
    const warm = check(await sides.runRunner());
    sides.onRunnerWarm?.();
    const floorMs = await sides.loadFloor();
    await sides.runFloor(warm.promptIds, warm.ids.length);
    if (load === 0) [loadMs, floorLoadMs] = [runnerMs, floorMs];
    const lastLoad = load === loadCount - 1;
    const share = (load + 1) / loadCount;
    const start = performance.now() - measuredMs;
    const due = (): boolean => {
      const n = runner.length;
      if (n < MAX_ROUNDS && (n < Math.ceil(runs * share) || performance.now() - start < minMs * share)) return true;
      if (!lastLoad) return false;
      if (!settle || n >= MAX_ROUNDS || performance.now() - start >= settle.maxMs) return false;
      if (n < Math.ceil(askedAt * 1.1)) return true;
      askedAt = n;
      return !settle.settled(runner, floor, loads);
    };
    let last = warm;
    for (let k = 0; due(); k++) {
      if (k % 2 === 0) {
        const r = check(await sides.runRunner());
        floor.push(await sides.runFloor(r.promptIds, r.ids.length));
        runner.push((last = r));
      } else {
        // The floor first in odd rounds (ABBA), on the ids of the runner run before: greedy
        // decoding writes the same ids each time, and same_ids checks it.
        const f = await sides.runFloor(last.promptIds, last.ids.length);
        runner.push((last = check(await sides.runRunner())));
        floor.push(f);
      }
      loads.push(load);
    }
    measuredMs = performance.now() - start;
  }
  return { loadMs, floorLoadMs, runner, floor, ...(loadCount > 1 ? { loads } : {}) };
}

/** One column generating alone: its new tokens and the wall time of the whole call (prefill included). */
export interface SoloRun {
  dtype: string;
  tokens: number;
  ms: number;
}
/** One of the columns started together: its new tokens and when it started and ended (ms, one clock). */
export interface TogetherRun {
  dtype: string;
  tokens: number;
  startMs: number;
  endMs: number;
}
export interface ConcurrencyRound {
  alone: SoloRun[];
  together: TogetherRun[];
}
export interface ConcurrencySides {
  /** Makes every column ready to run at once (the browser loads them with their share of threads). */
  prepareTogether?(): Promise<void>;
  /** Every column starts generating at once. */
  runTogether(): Promise<TogetherRun[]>;
  /** Makes column i ready to run on its own (the browser loads it alone, with a lone column's threads). */
  prepareAlone?(i: number): Promise<void>;
  /** Column i generates on its own. */
  runAlone(i: number): Promise<SoloRun>;
}

/**
 * All columns together: one warm-up, then `runs` rounds, more while they have taken less than
 * `minMs` (at most MAX_ROUNDS); then each column alone: one warm-up and as many runs. Round k
 * pairs the k-th run together with each column's k-th run alone. Phases, not alternation, so no
 * more columns are loaded at once than the page would load (the browser holds each model once).
 */
export async function measureConcurrency(
  sides: ConcurrencySides,
  columns: number,
  runs: number,
  minMs = 0,
): Promise<ConcurrencyRound[]> {
  await sides.prepareTogether?.();
  await sides.runTogether();
  const together: TogetherRun[][] = [];
  const start = performance.now();
  while (another(together.length, runs, minMs, start)) together.push(await sides.runTogether());
  const alone: SoloRun[][] = together.map(() => []);
  for (let c = 0; c < columns; c++) {
    await sides.prepareAlone?.(c);
    await sides.runAlone(c);
    for (const round of alone) round.push(await sides.runAlone(c));
  }
  return together.map((t, k) => ({ alone: alone[k], together: t }));
}

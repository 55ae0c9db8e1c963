// `quantlab bench --first-token`: time from navigation to the first token written in the page's
// first column, on a first visit (empty cache and storage) and a second one, split into stages
// (src/lib/page/first-token.ts), beside the floor: a minimal page that loads the same .onnx into
// one ONNX Runtime session and runs one step. Medians over the visits.

import { FIRST_TOKEN_STAGES, type FirstTokenStage, type FirstTokenTimeline } from '../page/first-token';
import { median } from './stats';

/** One round: the page and the floor page, each on a first visit and a second one. */
export interface FirstTokenRound {
  cold: FirstTokenTimeline;
  warm: FirstTokenTimeline;
  floorColdMs: number;
  floorWarmMs: number;
  /** Every column's first token (ms after navigation, in column order), first visit and second. */
  coldColumnsMs: number[];
  warmColumnsMs: number[];
}

export interface FirstTokenResult {
  /** The first column's file stem (the floor loads the same file). */
  variant: string;
  runs: number;
  /** Medians over the rounds, ms from navigation to the first token written. */
  cold_ms: number;
  warm_ms: number;
  floor_cold_ms: number;
  floor_warm_ms: number;
  /** What the page adds to the floor: cold_ms / floor_cold_ms, warm_ms / floor_warm_ms. */
  cold_ratio: number;
  warm_ratio: number;
  /** Median duration of each stage on the first visit (stages may overlap: see the timeline). */
  stages: Record<FirstTokenStage, number>;
  /** The same on the second visit. */
  warm_stages: Record<FirstTokenStage, number>;
  /** Median start and end of each stage, ms after navigation: first visit, second visit. */
  timeline: Record<FirstTokenStage, { start_ms: number; end_ms: number }>;
  warm_timeline: Record<FirstTokenStage, { start_ms: number; end_ms: number }>;
  /** Every round's totals, in order, so the spread is visible. */
  cold_runs_ms: number[];
  warm_runs_ms: number[];
  /**
   * Each column's first token (median over the rounds, ms after navigation, in column order): the
   * columns after the first load after it, so this shows what the first one's head start costs them.
   */
  columns_cold_ms: number[];
  columns_warm_ms: number[];
}

/** Per column index, the median over the rounds that have that column. */
function perColumn(lists: readonly number[][]): number[] {
  const n = Math.max(0, ...lists.map((l) => l.length));
  return Array.from({ length: n }, (_, i) => median(lists.filter((l) => i < l.length).map((l) => l[i])));
}

/** Medians over the rounds (at least one). */
export function firstTokenResult(variant: string, rounds: readonly FirstTokenRound[]): FirstTokenResult {
  if (rounds.length === 0) throw new Error('no first-token rounds');
  const stagesOf = (pick: (r: FirstTokenRound) => FirstTokenTimeline) =>
    Object.fromEntries(FIRST_TOKEN_STAGES.map((s) => [s, median(rounds.map((r) => pick(r).stages[s]))])) as Record<
      FirstTokenStage,
      number
    >;
  const timelineOf = (pick: (r: FirstTokenRound) => FirstTokenTimeline) =>
    Object.fromEntries(
      FIRST_TOKEN_STAGES.map((s) => [
        s,
        {
          start_ms: median(rounds.map((r) => pick(r).spans[s].startMs)),
          end_ms: median(rounds.map((r) => pick(r).spans[s].endMs)),
        },
      ]),
    ) as FirstTokenResult['timeline'];
  const cold = median(rounds.map((r) => r.cold.totalMs));
  const warm = median(rounds.map((r) => r.warm.totalMs));
  const floorCold = median(rounds.map((r) => r.floorColdMs));
  const floorWarm = median(rounds.map((r) => r.floorWarmMs));
  return {
    variant,
    runs: rounds.length,
    cold_ms: cold,
    warm_ms: warm,
    floor_cold_ms: floorCold,
    floor_warm_ms: floorWarm,
    cold_ratio: cold / floorCold,
    warm_ratio: warm / floorWarm,
    stages: stagesOf((r) => r.cold),
    warm_stages: stagesOf((r) => r.warm),
    timeline: timelineOf((r) => r.cold),
    warm_timeline: timelineOf((r) => r.warm),
    cold_runs_ms: rounds.map((r) => r.cold.totalMs),
    warm_runs_ms: rounds.map((r) => r.warm.totalMs),
    columns_cold_ms: perColumn(rounds.map((r) => r.coldColumnsMs)),
    columns_warm_ms: perColumn(rounds.map((r) => r.warmColumnsMs)),
  };
}

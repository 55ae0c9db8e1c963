// The latency panel's state: the memory bandwidth its ceiling assumes (the user's figure, kept in
// storage), and the speed-floor measurement, each column's result (ColumnFloor) and the pass over
// the columns, one at a time so they do not share the cores while timed (Latency).

import { toErrorInfo, type ErrorInfo } from '../lib/errors';
import { DEFAULT_BANDWIDTH_GBS, parseBandwidth, type FloorMeasurement } from '../lib/page/latency';

const BANDWIDTH_KEY = 'quantlab:bandwidth-gbs';

function loadBandwidth(): number {
  try {
    return parseBandwidth(localStorage.getItem(BANDWIDTH_KEY) ?? '');
  } catch {
    return DEFAULT_BANDWIDTH_GBS;
  }
}

/** One column's floor: the last measurement, whether one runs, and why the last one failed. */
export class ColumnFloor {
  result = $state.raw<FloorMeasurement | null>(null);
  measuring = $state(false);
  error = $state<ErrorInfo | null>(null);

  /** Runs one measurement (`run` is the worker call); a cancelled one leaves no error. */
  async measure(run: () => Promise<FloorMeasurement>): Promise<void> {
    if (this.measuring) return;
    this.measuring = true;
    this.error = null;
    try {
      this.result = await run();
    } catch (err) {
      const e = toErrorInfo(err);
      if (e.code !== 'cancelled') this.error = e;
    } finally {
      this.measuring = false;
    }
  }
}

/** What the floor pass needs of a column (Column has it). */
export interface FloorTarget {
  measureFloor(prompt: string, newTokens: number): Promise<void>;
  cancelFloor(): void;
}

/** What the floor pass reads from the playground when it starts. */
export interface FloorSource {
  columns(): readonly FloorTarget[];
  prompt(): string;
  maxNewTokens(): number;
  /** A generation or a load is running: no measurement then. */
  busy(): boolean;
}

export class Latency {
  /** Memory bandwidth (GB/s) the latency panel's ceiling assumes. */
  bandwidthGBs = $state(loadBandwidth());
  /** A floor pass over the columns is running. */
  measuring = $state(false);

  #cancelled = false;

  constructor(private readonly source: FloorSource) {}

  /** Sets the bandwidth from the panel's field; returns what is wrong with it, or null. */
  setBandwidth(text: string): string | null {
    try {
      this.bandwidthGBs = parseBandwidth(text);
    } catch (err) {
      return toErrorInfo(err).message;
    }
    try {
      localStorage.setItem(BANDWIDTH_KEY, String(this.bandwidthGBs));
    } catch {
      // storage full or disabled: the figure holds for this visit
    }
    return null;
  }

  /**
   * Measures each column's speed floor, one column at a time, over min(max new tokens, 64) (at
   * least 8) greedy tokens of the current prompt. Columns that are not loaded skip it.
   */
  async measure(): Promise<void> {
    if (this.measuring || this.source.busy()) return;
    this.measuring = true;
    this.#cancelled = false;
    const n = Math.max(8, Math.min(64, this.source.maxNewTokens()));
    try {
      for (const c of this.source.columns()) {
        if (this.#cancelled) break;
        await c.measureFloor(this.source.prompt(), n);
      }
    } finally {
      this.measuring = false;
    }
  }

  /** Stops the pass: the column being timed stops after its current run, the rest are skipped. */
  cancel(): void {
    this.#cancelled = true;
    for (const c of this.source.columns()) c.cancelFloor();
  }
}

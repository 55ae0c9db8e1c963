// Keeps the quality lab across reloads: one localStorage record with the form, the last report,
// the last sweep (partial or not) and every size-vs-quality point measured in this browser.
// JSON has no NaN: numbers that were NaN come back as NaN, and any field of the wrong shape is dropped.

import type { GridFields } from '../lib/eval/lab-inputs';
import type { ReportVariant, SizeQualityPoint } from '../lib/eval/lab-charts';
import type { QualityReport } from '../lib/eval/quality';
import type { SweepGrid, SweepRow } from '../lib/eval/sweep';
import type { ErrorInfo } from '../lib/errors';

const KEY = 'quantlab:lab:v1';

/**
 * A report with what it was measured on: the evaluation text's name (`textTag`) and sameTextTag
 * (`evalTag`), and each precision's method and calibration text (absent in reports saved before).
 */
export type LabReport = QualityReport & {
  model: string;
  modelKey: string;
  textTag: string;
  evalTag?: string;
  variants?: Record<string, ReportVariant>;
};

/** A sweep, finished, cancelled or still running when saved. */
export interface LabSweep {
  model: string;
  modelKey: string;
  baseline: string;
  grid: SweepGrid;
  rows: SweepRow[];
  done: number;
  total: number;
  cancelled: boolean;
  error?: ErrorInfo;
}

export interface StoredLab {
  version: 1;
  source: 'sample' | 'pasted';
  text: string;
  ctx: string;
  baselineChoice: string;
  fields: GridFields;
  report: LabReport | null;
  sweep: LabSweep | null;
  points: SizeQualityPoint[];
}

/** Keys whose null is a real null, not a NaN that JSON flattened. */
const NULLABLE = new Set(['bos']);

/**
 * The stored record's usable parts: each field that has the right shape, none of the others ({}
 * when there is no record or it cannot be read).
 */
export function loadLab(): Partial<StoredLab> {
  let rec: Partial<StoredLab> | undefined;
  try {
    const raw = localStorage.getItem(KEY);
    if (!raw) return {};
    rec = JSON.parse(raw, (k, v) => (v === null && !NULLABLE.has(k) ? NaN : v)) as Partial<StoredLab>;
  } catch {
    return {};
  }
  if (!rec || typeof rec !== 'object' || rec.version !== 1) return {};
  const out: Partial<StoredLab> = {};
  if (rec.source === 'sample' || rec.source === 'pasted') out.source = rec.source;
  if (typeof rec.text === 'string') out.text = rec.text;
  if (typeof rec.ctx === 'string') out.ctx = rec.ctx;
  if (typeof rec.baselineChoice === 'string') out.baselineChoice = rec.baselineChoice;
  if (rec.fields && typeof rec.fields === 'object') out.fields = rec.fields;
  if (rec.report && typeof rec.report === 'object' && rec.report.results) out.report = rec.report;
  if (rec.sweep && typeof rec.sweep === 'object' && Array.isArray(rec.sweep.rows)) out.sweep = rec.sweep;
  if (Array.isArray(rec.points)) out.points = rec.points;
  return out;
}

/** Saves the record; returns false when storage is full or blocked (the page keeps working). */
export function saveLab(rec: StoredLab): boolean {
  try {
    localStorage.setItem(
      KEY,
      JSON.stringify(rec, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)),
    );
    return true;
  } catch {
    return false;
  }
}

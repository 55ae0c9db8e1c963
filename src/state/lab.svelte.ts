// The quality lab's state: it drives src/lib/eval's engine (the one `quantlab eval` and
// `quantlab sweep` run) over the precisions loaded as playground columns, each in a column worker
// of its own (so a report never waits for, or interrupts, the playground's generation), and keeps
// the report, the sweep rows as they arrive, and size-vs-quality points.

import { proxy } from 'comlink';
import { ColumnClient, type StartColumnWorker } from '../browser/column-client';
import { workerEvalModel, type EvalWorker } from '../browser/worker-model';
import { QuantlabError, toErrorInfo, type ErrorInfo } from '../lib/errors';
import {
  mergePoints,
  sameTextTag,
  textTag,
  variantMethod,
  type ReportVariant,
  type SizeQualityPoint,
} from '../lib/eval/lab-charts';
import { checkForm, gridFromFields, parseCtx, type FormCheck, type GridFields } from '../lib/eval/lab-inputs';
import type { EvalModel, LabeledModel } from '../lib/eval/model';
import { checkText, evaluateQuality } from '../lib/eval/quality';
import { SAMPLE_TEXT } from '../lib/eval/sample';
import { checkReportPlan, count, describeReport, describeSweep, LIMITS, planReport, planSweep } from '../lib/eval/plan';
import { runSweep, type SweepRow } from '../lib/eval/sweep';
import { toCsv, toJson, type Cell } from '../lib/eval/export';
import { qualityCsv, SweepAggregator, sweepAggregatesCsv, sweepRowsCsv, type SweepAggregate } from '../lib/eval/tables';
import { refKey } from '../lib/model/ref';
import type { TokenEvent } from '../lib/runner/types';
import { FP32_STEM } from '../lib/variants/table';
import type { Column } from './column.svelte.ts';
import { loadLab, saveLab, type LabReport, type LabSweep } from './lab-storage';
import type { Playground } from './playground.svelte.ts';

/** How long the lab waits after a change before it saves. */
const SAVE_DEBOUNCE_MS = 500;
/** How often a running sweep shows its new rows (its progress counter moves at every run). */
const PUBLISH_MS = 250;
/** A sweep with more rows is not kept across reloads: writing it would stall the page (export it instead). */
const SAVE_ROWS = 5000;

interface LabModel {
  client: ColumnClient;
  ready: Promise<{ model: EvalModel; maxPositions?: number }>;
}

/** The eval engine's calls, each through the client (so a crashed worker fails the run instead of hanging it). */
function evalWorker(client: ColumnClient): EvalWorker {
  return {
    logits: (ids) => client.call((api) => api.logits(ids)),
    encode: (text) => client.call((api) => api.encode(text)),
    decode: (ids) => client.call((api) => api.decode(ids)),
    bosId: () => client.call((api) => api.bosId()),
    generate: (params, onToken) =>
      client.call((api) => api.generate(params, onToken && proxy((e: TokenEvent) => onToken(e.ids.length)))),
    cancel: () => client.cancel(),
  };
}

/** What the lab can export. */
export type ExportKind =
  'quality-csv' | 'quality-json' | 'sweep-csv' | 'sweep-summary-csv' | 'sweep-json' | 'points-csv';

const bad = (msg: string, detail?: string) => new QuantlabError('bad-argument', msg, detail);
// The bits-against-KLD chart's x: the manifest's bits per weight of the quantized tensors, else the variant's.
const bitsOf = (c: Column) => c.variant.bitsQuantized ?? c.variant.bitsPerWeight;
const isLoaded = (c: Column) => c.status === 'ready' || c.status === 'done' || c.status === 'generating';

export class Lab {
  source = $state<'sample' | 'pasted'>('sample');
  text = $state('');
  /** Window length in tokens; empty = min(512, the model's positions), as the CLI does. */
  ctx = $state('');
  /** 'auto' (fp32, else the highest precision loaded) or a variant stem. */
  baselineChoice = $state('auto');
  fields = $state<GridFields>({
    prompt: 'I dreamed',
    temperatures: '0, 0.3, 0.5, 0.8, 1, 1.5',
    topKs: '1, 5, 0',
    topPs: '1',
    maxNewTokens: '16',
    seeds: '3',
  });
  running = $state<'quality' | 'sweep' | null>(null);
  /** `plan`: the run's size and estimate, as checked before it started. */
  progress = $state.raw<{ done: number; total: number; what: string; plan?: string; tokens?: number } | null>(null);
  error = $state<ErrorInfo | null>(null);
  report = $state.raw<LabReport | null>(null);
  sweep = $state.raw<LabSweep | null>(null);
  points = $state.raw<SizeQualityPoint[]>([]);
  /** False when the last save did not fit in storage. */
  saved = $state(true);

  /** Playground columns whose model is loaded, highest precision first. */
  readonly loaded: Column[] = $derived.by(() =>
    this.pg.columns.filter(isLoaded).sort((a, b) => a.variant.rank - b.variant.rank),
  );
  readonly aggregates: SweepAggregate[] = $derived(this.sweep ? this.#aggregate(this.sweep) : []);
  /** Decode tokens/s each loaded column measured in its last generation (undefined where none yet). */
  readonly speeds: (number | undefined)[] = $derived(this.loaded.map((c) => c.timings?.decodeTokensPerS));
  /** The form as typed: a message per bad field, and the sweep's size when it is usable. */
  readonly form: FormCheck = $derived(checkForm(this.fields, this.ctx, Math.max(1, this.loaded.length), this.speeds));

  #workers = new Map<string, LabModel>();
  /** The aggregator of the sweep shown, and how many of its rows it has (a running sweep only grows). */
  #agg: { grid: LabSweep['grid']; rows: number; agg: SweepAggregator } | undefined;
  #ctrl: AbortController | undefined;
  #saveTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly pg: Playground,
    private readonly startWorker: StartColumnWorker,
  ) {
    const r = loadLab();
    this.source = r.source ?? this.source;
    this.text = r.text ?? this.text;
    this.ctx = r.ctx ?? this.ctx;
    this.baselineChoice = r.baselineChoice ?? this.baselineChoice;
    this.fields = { ...this.fields, ...r.fields };
    this.report = r.report ?? this.report;
    this.sweep = r.sweep ?? this.sweep;
    this.points = r.points ?? this.points;
  }

  #aggregate(s: LabSweep): SweepAggregate[] {
    if (this.#agg?.grid !== s.grid || s.rows.length < this.#agg.rows)
      this.#agg = { grid: s.grid, rows: 0, agg: new SweepAggregator() };
    this.#agg.agg.add(s.rows.slice(this.#agg.rows));
    this.#agg.rows = s.rows.length;
    return this.#agg.agg.aggregates();
  }

  /** The baseline the next run will use, or why there is none. */
  get baseline(): { column?: Column; problem?: string } {
    const cols = this.loaded;
    if (this.baselineChoice !== 'auto') {
      const c = cols.find((x) => x.variant.stem === this.baselineChoice);
      if (c) return { column: c };
      const label =
        this.pg.columns.find((x) => x.variant.stem === this.baselineChoice)?.variant.label ?? this.baselineChoice;
      return {
        problem: `The baseline ${label} is not loaded. Press Load (or Generate) above so its column loads, or pick a loaded precision as the baseline.`,
      };
    }
    if (cols.length === 0)
      return { problem: 'No precision is loaded. Pick precisions above and press Load (or Generate), then come back.' };
    return { column: cols.find((c) => c.variant.stem === FP32_STEM) ?? cols[0] };
  }

  /** The text the report scores. */
  get scoredText(): string {
    return this.source === 'sample' ? SAMPLE_TEXT : this.text;
  }

  /** Loads (once) a worker per loaded column; labels are the columns' labels. */
  async #models(): Promise<{
    models: LabeledModel[];
    baseline: string;
    maxPositions?: number;
    bytes: Map<string, number | undefined>;
    variants: Record<string, ReportVariant>;
  }> {
    const { column: base, problem } = this.baseline;
    if (!base) throw bad(problem!);
    const cols = this.loaded;
    const keys = cols.map((c) => `${refKey(c.ref)}|${c.variant.stem}|${c.device?.device ?? 'wasm'}`);
    // Workers of columns no longer loaded go (terminate() takes them out of the pool).
    for (const [k, w] of this.#workers) if (!keys.includes(k)) w.client.terminate();
    const loads = cols.map((c, i) => (this.#workers.get(keys[i]) ?? this.#startModel(keys[i], c)).ready);
    const ready = await Promise.all(loads);
    const labels = cols.map((c) =>
      cols.filter((d) => d.variant.label === c.variant.label).length > 1 ? c.variant.stem : c.variant.label,
    );
    return {
      models: ready.map((r, i) => ({ label: labels[i], model: r.model })),
      baseline: labels[cols.indexOf(base)],
      maxPositions: ready.find((r) => r.maxPositions !== undefined)?.maxPositions,
      bytes: new Map(cols.map((c, i) => [labels[i], c.bytes])),
      variants: Object.fromEntries(
        cols.map((c, i) => [
          labels[i],
          {
            method: variantMethod(c.variant),
            ...(bitsOf(c) !== undefined ? { bits: bitsOf(c) } : {}),
            ...(c.variant.calibration ? { calibration: { ...c.variant.calibration } } : {}),
          },
        ]),
      ),
    };
  }

  /** A worker of the pool loading column `c`'s variant; it leaves the pool when its load fails or it goes. */
  #startModel(key: string, c: Column): LabModel {
    const client: ColumnClient = new ColumnClient(this.startWorker, () => {
      if (this.#workers.get(key) === w) this.#workers.delete(key);
    });
    const device = c.device?.device ?? 'wasm';
    const ready = client
      .call((api) =>
        api.load($state.snapshot(c.ref), c.variant.stem, device, undefined, undefined, c.variant.externalData),
      )
      .then(
        (r) => ({ model: workerEvalModel(evalWorker(client)), maxPositions: r.maxPositions }),
        (err: unknown) => {
          const e = toErrorInfo(err);
          throw new QuantlabError(e.code, `${c.variant.label}: ${e.message}`, e.detail);
        },
      );
    const w: LabModel = { client, ready };
    this.#workers.set(key, w);
    // A failed load is retried next time with a fresh worker.
    ready.catch(() => client.terminate());
    return w;
  }

  async #run(kind: 'quality' | 'sweep', body: (signal: AbortSignal) => Promise<void>): Promise<void> {
    if (this.running) return;
    this.error = null;
    this.running = kind;
    this.progress = { done: 0, total: 0, what: 'Loading the precisions' };
    const ctrl = (this.#ctrl = new AbortController());
    try {
      await body(ctrl.signal);
    } catch (err) {
      this.error = toErrorInfo(err);
    } finally {
      this.running = null;
      this.progress = null;
      this.#ctrl = undefined;
      this.saveNow();
    }
  }

  /** The teacher-forced report of every loaded precision against the baseline. */
  runQuality(): Promise<void> {
    return this.#run('quality', async (signal) => {
      const text = this.scoredText;
      checkText(text);
      if (text.length > LIMITS.textChars)
        throw bad(
          `The text is ${count(text.length)} characters, over the limit of ${count(LIMITS.textChars)}`,
          'Score a shorter part of it.',
        );
      const ctxAsked = parseCtx(this.ctx);
      const speeds = this.speeds;
      const m = await this.#models();
      const ctx = ctxAsked ?? Math.min(512, m.maxPositions ?? 512);
      if (m.maxPositions !== undefined && ctx > m.maxPositions) {
        throw bad(
          `A window of ${ctx} tokens is longer than the model's ${m.maxPositions} positions`,
          `Use a window of ${m.maxPositions} tokens or less.`,
        );
      }
      const report = await evaluateQuality({
        text,
        models: m.models,
        baseline: m.baseline,
        ctx,
        signal,
        onPlan: (windows) => {
          const plan = planReport(windows, ctx, m.models.length, speeds);
          checkReportPlan(plan);
          this.progress = { done: 0, total: windows, what: 'windows', plan: describeReport(plan) };
        },
        onProgress: (p) => (this.progress = { ...this.progress, done: p.done, total: p.total, what: 'windows' }),
      });
      const model = this.pg.model;
      const tag = this.source === 'sample' ? 'built-in sample' : textTag(text);
      this.report = {
        ...report,
        model: model?.name ?? '',
        modelKey: model?.key ?? '',
        textTag: tag,
        evalTag: sameTextTag(text),
        variants: m.variants,
      };
      if (!report.cancelled && model) {
        const at = new Date().toISOString();
        const add: SizeQualityPoint[] = [];
        for (const [precision, e] of Object.entries(report.results)) {
          const bytes = m.bytes.get(precision);
          if (!('error' in e) && bytes !== undefined)
            add.push({
              modelKey: model.key,
              model: model.name,
              precision,
              method: m.variants[precision]?.method,
              bytes,
              bits_per_byte: e.bits_per_byte,
              ppl: e.ppl,
              text: tag,
              ctx,
              at,
            });
        }
        this.points = mergePoints(this.points, add);
      }
    });
  }

  /** The sampling sweep over the grid in the form; rows appear as each (cell, seed) finishes. */
  runSweep(): Promise<void> {
    return this.#run('sweep', async (signal) => {
      const speeds = this.speeds;
      const grid = gridFromFields($state.snapshot(this.fields), Math.max(1, this.loaded.length), speeds);
      const m = await this.#models();
      if (m.maxPositions !== undefined) {
        const base = m.models.find((x) => x.label === m.baseline)!;
        const promptLen = (await base.model.encode(grid.prompt)).length;
        const longest = Math.max(...grid.maxNewTokens);
        if (promptLen + longest > m.maxPositions) {
          throw bad(
            `The prompt (${promptLen} tokens) plus ${longest} new tokens exceeds the model's ${m.maxPositions} positions`,
            `Use at most ${Math.max(1, m.maxPositions - promptLen)} new tokens.`,
          );
        }
      }
      const plan = describeSweep(planSweep({ ...grid, seeds: grid.seeds.length }, m.models.length, speeds));
      const model = this.pg.model;
      const head = { model: model?.name ?? '', modelKey: model?.key ?? '', baseline: m.baseline, grid };
      this.sweep = { ...head, rows: [], done: 0, total: 0, cancelled: false };
      // Rows gather here and reach the page (tables, charts, storage) at most every PUBLISH_MS.
      const rows: SweepRow[] = [];
      let last = { done: 0, total: 0 };
      let shown = 0;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const publish = () => {
        timer = undefined;
        shown = performance.now();
        if (this.running !== 'sweep') return;
        this.sweep = { ...head, rows: rows.slice(), ...last, cancelled: false };
        this.#saveSoon();
      };
      const result = await runSweep({
        grid,
        models: m.models,
        baseline: m.baseline,
        signal,
        onProgress: (p) => {
          this.progress = { done: p.done, total: p.total, what: 'cell x seed runs', plan, tokens: p.tokens };
          if (p.status !== 'cell') return;
          rows.push(...p.rows);
          last = { done: p.done, total: p.total };
          timer ??= setTimeout(publish, Math.max(0, shown + PUBLISH_MS - performance.now()));
        },
      });
      clearTimeout(timer);
      this.sweep = {
        ...head,
        rows: result.rows,
        done: result.done,
        total: result.total,
        cancelled: result.cancelled,
        ...(result.error ? { error: result.error } : {}),
      };
    });
  }

  /** Stops the run in flight after the current window or generation; what finished stays. */
  cancel(): void {
    this.#ctrl?.abort();
  }

  /** A result as a file: CSV (RFC 4180, opens in any spreadsheet) or JSON; undefined when there is none. */
  exportFile(kind: ExportKind): { text: string; name: string; type: string } | undefined {
    const csv = 'text/csv;charset=utf-8';
    const json = 'application/json';
    const stamp = new Date().toISOString().slice(0, 19).replaceAll(':', '-');
    const r = this.report ?? undefined;
    const s = this.sweep ?? undefined;
    switch (kind) {
      case 'quality-csv':
        return r && { text: qualityCsv(r), name: `quality-${stamp}.csv`, type: csv };
      case 'quality-json':
        return r && { text: toJson(r), name: `quality-${stamp}.json`, type: json };
      case 'sweep-csv':
        return s && { text: sweepRowsCsv(s.rows), name: `sweep-${stamp}.csv`, type: csv };
      case 'sweep-summary-csv':
        return s && { text: sweepAggregatesCsv(this.aggregates), name: `sweep-means-${stamp}.csv`, type: csv };
      case 'sweep-json':
        return s && { text: toJson({ ...s, aggregates: this.aggregates }), name: `sweep-${stamp}.json`, type: json };
      case 'points-csv':
        return {
          text: toCsv(
            ['model', 'precision', 'method', 'bytes', 'bits_per_byte', 'ppl', 'text', 'ctx', 'at'],
            this.points as unknown as Record<string, Cell>[],
          ),
          name: `size-quality-${stamp}.csv`,
          type: csv,
        };
    }
  }

  /** Forgets every size-vs-quality point. */
  clearPoints(): void {
    this.points = [];
    this.saveNow();
  }

  #saveSoon(): void {
    clearTimeout(this.#saveTimer);
    this.#saveTimer = setTimeout(() => this.saveNow(), SAVE_DEBOUNCE_MS);
  }

  saveNow(): void {
    clearTimeout(this.#saveTimer);
    const keepSweep = !this.sweep || this.sweep.rows.length <= SAVE_ROWS;
    this.saved =
      saveLab({
        version: 1,
        source: this.source,
        text: this.text,
        ctx: this.ctx,
        baselineChoice: this.baselineChoice,
        fields: $state.snapshot(this.fields),
        report: this.report,
        sweep: keepSweep ? this.sweep : null,
        points: this.points,
      }) && keepSweep;
  }

  dispose(): void {
    this.cancel();
    for (const w of this.#workers.values()) w.client.terminate();
    this.#workers.clear();
  }
}

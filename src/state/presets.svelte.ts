// The guided experiments' state: which presets can run on the models the page can open (and why
// not), and one run at a time: it picks the model and precisions as columns, loads them, fills the
// quality lab's form and runs the lab's sweep or report (its progress and Cancel), then turns the
// lab's result into the preset's sentence, chart and exports (src/lib/presets).

import { fetchServedModels } from '../browser/served-models';
import { SERVED_MODELS, TINY_MODEL } from '../lib/catalog';
import { QuantlabError, toErrorInfo, type ErrorInfo } from '../lib/errors';
import { toJson } from '../lib/eval/export';
import type { QualityReport } from '../lib/eval/quality';
import { SAMPLE_TEXT } from '../lib/eval/sample';
import type { SweepRow } from '../lib/eval/sweep';
import { presetUrl } from '../lib/page/preset-url';
import { PRESET_IDS, type PresetId } from '../lib/presets/definitions';
import {
  clampSize,
  DEFAULT_SIZE,
  planPreset,
  type Availability,
  type PresetModel,
  type PresetPlan,
  type PresetSize,
} from '../lib/presets/plan';
import {
  summariseMethods,
  summariseNf4Fp4,
  summariseSizeMatched,
  summariseTemperature,
  type PresetOutcome,
} from '../lib/presets/summary';
import type { VariantInfo } from '../lib/variants/table';
import type { Lab } from './lab.svelte.ts';
import type { Playground } from './playground.svelte.ts';

/** What a finished preset keeps: its sentence and chart, and the plan and data behind them (the JSON export). */
export interface PresetRun {
  outcome: PresetOutcome;
  plan: PresetPlan;
  rows?: SweepRow[];
  reports?: QualityReport[];
}

const cancelled = () => new QuantlabError('cancelled', 'Cancelled');

/** `p`, or a cancelled error as soon as `signal` aborts. */
function unlessAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(cancelled());
    const onAbort = () => reject(cancelled());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export class Presets {
  size = $state<PresetSize>({ ...DEFAULT_SIZE });
  running = $state<PresetId | null>(null);
  /** What the run in flight is doing before the lab's own progress takes over. */
  stage = $state('');
  runs = $state.raw<Partial<Record<PresetId, PresetRun>>>({});
  errors = $state.raw<Partial<Record<PresetId, ErrorInfo>>>({});
  /** Messages about a preset link that had to be changed or ignored. */
  notices = $state.raw<string[]>([]);
  /** The served models' variants, read here so presets know them before their model is picked. */
  #served = $state.raw<Record<string, VariantInfo[]>>({});
  #ready: Promise<void> | undefined;
  #ctrl: AbortController | undefined;

  /** The models a preset may use: served and the user's own, Hub models opened by id or picked. */
  readonly models: PresetModel[] = $derived.by(() =>
    this.pg.models
      .filter(
        (m) => m.ref.kind !== 'hub' || m.key === this.pg.modelKey || this.pg.hub.opened.some((o) => o.key === m.key),
      )
      .map((m) => ({
        key: m.key,
        name: m.name,
        randomWeights: m.key === TINY_MODEL.key,
        variants: m.variants ?? (m.ref.kind === 'served' ? (this.#served[m.ref.id] ?? []) : []),
      })),
  );

  readonly availability: Record<PresetId, Availability> = $derived.by(
    () =>
      Object.fromEntries(
        PRESET_IDS.map((id) => [id, planPreset(id, this.models, this.pg.modelKey, this.size, SAMPLE_TEXT)]),
      ) as Record<PresetId, Availability>,
  );

  constructor(
    private readonly pg: Playground,
    private readonly lab: Lab,
    private readonly servedModels: (id: string) => Promise<{ variants?: VariantInfo[] }> = (id) =>
      fetchServedModels(document.baseURI, id),
  ) {}

  /** Reads the served models' variants (once). */
  loadModels(): Promise<void> {
    this.#ready ??= Promise.all(
      SERVED_MODELS.map(async (m) => {
        const r = await this.servedModels(m.ref.id);
        if (r.variants) this.#served = { ...this.#served, [m.ref.id]: r.variants };
      }),
    ).then(() => undefined);
    return this.#ready;
  }

  /** Runs the preset a share link asked for (after the page has read its settings), saying what was changed. */
  async openWith(link: { request?: { id: PresetId; size: Partial<PresetSize> }; messages: string[] }): Promise<void> {
    this.notices = link.messages;
    if (!link.request) return;
    this.size = clampSize({ ...this.size, ...link.request.size });
    await this.run(link.request.id);
  }

  /** Configures the page for preset `id`, runs it through the lab, and keeps its outcome; errors are shown per preset. */
  async run(id: PresetId): Promise<void> {
    if (this.running || this.lab.running) return;
    this.running = id;
    this.errors = { ...this.errors, [id]: undefined };
    const ctrl = (this.#ctrl = new AbortController());
    try {
      this.stage = 'Reading the models';
      await this.loadModels();
      const a = this.availability[id];
      if (!a.ok) throw new QuantlabError('bad-argument', a.reason);
      const plan = a.plan;
      const rows: SweepRow[] = [];
      const reports: QualityReport[] = [];
      for (const s of plan.steps) {
        const labels = s.variants.map((v) => s.labels[v]).join(', ');
        this.stage = `Loading ${s.modelName}: ${labels}`;
        await unlessAborted(this.pg.selectModel(s.modelKey, s.variants), ctrl.signal);
        const cols = this.pg.columns;
        const missing = s.variants.filter((v) => !cols.some((c) => c.variant.stem === v));
        if (this.pg.modelKey !== s.modelKey || missing.length)
          throw new QuantlabError('load-failed', `${s.modelName} could not be opened with ${labels}`);
        const ok = await unlessAborted(Promise.all(cols.map((c) => c.load())), ctrl.signal);
        const bad = cols.filter((_, i) => !ok[i]);
        if (bad.length)
          throw new QuantlabError(
            'load-failed',
            bad.map((c) => `${c.variant.label}: ${c.error?.message ?? 'did not load'}`).join('; '),
          );
        // A Cancel between the loads and the lab's start would otherwise reach no one.
        if (ctrl.signal.aborted) throw cancelled();
        this.lab.baselineChoice = s.baseline;
        this.stage = plan.kind === 'sweep' ? 'Sweep' : 'Report';
        if (plan.kind === 'sweep') {
          const g = plan.grid!;
          this.lab.fields = {
            prompt: g.prompt,
            temperatures: g.temperatures.join(', '),
            topKs: g.topKs.join(', '),
            topPs: g.topPs.join(', '),
            maxNewTokens: g.maxNewTokens.join(', '),
            seeds: String(g.seeds.length),
          };
          await this.lab.runSweep();
          if (this.lab.error)
            throw new QuantlabError(this.lab.error.code, this.lab.error.message, this.lab.error.detail);
          if (!this.lab.sweep || this.lab.sweep.cancelled || ctrl.signal.aborted) throw cancelled();
          rows.push(...this.lab.sweep.rows);
        } else {
          this.lab.source = 'sample';
          this.lab.ctx = '';
          await this.lab.runQuality();
          if (this.lab.error)
            throw new QuantlabError(this.lab.error.code, this.lab.error.message, this.lab.error.detail);
          if (!this.lab.report || this.lab.report.cancelled || ctrl.signal.aborted) throw cancelled();
          reports.push(this.lab.report);
        }
      }
      const outcome =
        id === 'temperature'
          ? summariseTemperature(plan, rows)
          : id === 'nf4-fp4'
            ? summariseNf4Fp4(plan, reports[0])
            : id === 'methods'
              ? summariseMethods(plan, reports[0])
              : summariseSizeMatched(plan, reports);
      this.runs = {
        ...this.runs,
        [id]: { outcome, plan, ...(plan.kind === 'sweep' ? { rows } : { reports }) },
      };
    } catch (err) {
      this.errors = { ...this.errors, [id]: toErrorInfo(err) };
    } finally {
      this.running = null;
      this.stage = '';
      this.#ctrl = undefined;
    }
  }

  /** Stops the run in flight: a load being waited for, or the lab's sweep or report. */
  cancel(): void {
    this.#ctrl?.abort();
    this.lab.cancel();
  }

  /** A link that opens this page on the preset's model and runs it. */
  shareUrl(id: PresetId): string {
    const base = this.pg.shareUrl || globalThis.location?.href || 'http://localhost/';
    return presetUrl(base, id, id === 'temperature' ? this.size : undefined);
  }

  /** The preset's result as JSON: the finding, the measured sentence and figures, the plan, and the data behind them. */
  exportJson(id: PresetId): { text: string; name: string; type: string } | undefined {
    const r = this.runs[id];
    if (!r) return undefined;
    const stamp = r.outcome.at.slice(0, 19).replaceAll(':', '-');
    const { plan } = r;
    return {
      text: toJson({
        preset: id,
        ...r.outcome,
        plan: { steps: plan.steps, grid: plan.grid, runs: plan.runs, tokens: plan.tokens, estimate: plan.estimate },
        url: this.shareUrl(id),
        ...(r.rows ? { rows: r.rows } : {}),
        ...(r.reports ? { reports: r.reports } : {}),
      }),
      name: `preset-${id}-${stamp}.json`,
      type: 'application/json',
    };
  }
}

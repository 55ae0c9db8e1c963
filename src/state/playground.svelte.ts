// The playground's state: which model, which of its variants are columns, the prompt and the
// sampling settings, live mode (debounced regeneration of every column), and the generation
// counter that lets each column drop tokens of a run that a newer one replaced. The latency
// panel's state is its own class (latency.svelte.ts), fed from here.

import type { StartColumnWorker } from '../browser/column-client';
import { fetchServedModels, type ServedModels } from '../browser/served-models';
import { testHubModels } from '../browser/test-hooks';
import { DEFAULT_MODEL_KEY, HUB_MODELS, TINY_MODEL, type CatalogModel } from '../lib/catalog';
import { firstDivergence } from '../lib/page/token-divergence';
import { detectPlatform, type PlatformInfo } from '../lib/page/platform';
import type { GenerateParams } from '../lib/runner/types';
import { DEFAULT_PROMPT, DEFAULT_SETTINGS, mergeSettings, type Settings } from '../lib/page/settings';
import { FP32_STEM, type VariantInfo } from '../lib/variants/table';
import { Column, type ColumnResult } from './column.svelte.ts';
import { Latency } from './latency.svelte.ts';
import type { Library } from './library.svelte.ts';
import type { PickedFile } from '../../workers/protocol';
import { mirrorUrl, readInputs, sameParams, save } from './persistence';

/** Quiet time after the last control change before live mode regenerates. */
export const LIVE_DEBOUNCE_MS = 300;
const PERSIST_DEBOUNCE_MS = 200;

export class Playground {
  settings = $state<Settings>({ ...DEFAULT_SETTINGS });
  prompt = $state(DEFAULT_PROMPT);
  modelKey = $state(DEFAULT_MODEL_KEY);
  selected = $state.raw<string[]>([]);
  columns = $state.raw<Column[]>([]);
  /** Messages about values read from the URL or storage that had to be changed. */
  notices = $state.raw<string[]>([]);
  platform = $state.raw<PlatformInfo | null>(null);
  /** Served models' variants (from models/index.json), or why they are unknown. */
  served = $state.raw<ServedModels>({});
  shareUrl = $state('');
  /** The latency panel: bandwidth and the floor measurement over these columns. */
  readonly latency = new Latency({
    columns: () => this.columns,
    prompt: () => this.prompt,
    maxNewTokens: () => this.settings.maxNewTokens,
    busy: () => this.busy,
  });

  /** Hub models, the built-in model, then the user's own. */
  get models(): CatalogModel[] {
    return [
      ...HUB_MODELS,
      this.served.variants ? { ...TINY_MODEL, variants: this.served.variants } : TINY_MODEL,
      ...this.library.entries,
      ...testHubModels(),
    ];
  }
  readonly model: CatalogModel | undefined = $derived.by(() => this.models.find((m) => m.key === this.modelKey));
  readonly variants: VariantInfo[] = $derived(this.model?.variants ?? []);
  readonly reference: Column | undefined = $derived(this.columns.find((c) => c.variant.stem === FP32_STEM));
  readonly busy: boolean = $derived(this.columns.some((c) => c.status === 'generating' || c.status === 'loading'));

  #gen = 0;
  #liveTimer: ReturnType<typeof setTimeout> | undefined;
  #persistTimer: ReturnType<typeof setTimeout> | undefined;
  #results: Record<string, ColumnResult> = {};
  /** The prompt and settings `#results` came from. */
  #resultsFor: GenerateParams | undefined;
  /** The generation in flight, kept in storage so that a reload can say it cut one short. */
  #running: GenerateParams | undefined;
  /** Each model's chosen precisions, by model key. */
  #choices: Record<string, string[]> = {};
  /** Generate was pressed in this page session: from then on live mode follows every change, a model switch too. */
  #armed = false;

  /** `servedModels` reads the built-in model's variants (the site's models/index.json by default). */
  constructor(
    readonly library: Library,
    private readonly startWorker: StartColumnWorker,
    private readonly servedModels: () => Promise<ServedModels> = () => fetchServedModels(document.baseURI),
  ) {}

  /** Reads storage and the URL (the URL wins), then finds the platform and the models. */
  async init(search: string): Promise<void> {
    const { stored, url, results, resultsModel, resultsFor, running, choices } = readInputs(search);
    const merged = mergeSettings(stored, url);
    this.settings = merged.settings;
    this.prompt = merged.prompt;
    const notices = [...merged.messages];
    const key = merged.model ?? DEFAULT_MODEL_KEY;
    this.#choices = choices;
    await Promise.all([detectPlatform().then((p) => (this.platform = p)), this.library.refresh()]);
    // The kept results belong to the stored model, prompt and settings: shown only under those.
    this.modelKey = key;
    const kept = resultsModel === key && Object.keys(results).length > 0;
    const matches = resultsFor !== undefined && sameParams(resultsFor, this.params);
    this.#results = kept && matches ? results : {};
    this.#resultsFor = kept && matches ? resultsFor : undefined;
    // Outputs left behind by a later edit of the prompt or settings get a note; a share link's
    // other settings simply open without them.
    const fromRecord = mergeSettings(stored);
    const staleInRecord =
      resultsFor === undefined || !sameParams(resultsFor, paramsOf(fromRecord.settings, fromRecord.prompt));
    if (running)
      notices.push(
        `The generation for “${clip(running.prompt)}” was interrupted by leaving or reloading the page before it finished${
          kept && matches ? '; the columns that had finished are shown' : ''
        }. Press Generate to run it again.`,
      );
    else if (kept && !matches && staleInRecord)
      notices.push(
        'The outputs from your last visit were made with another prompt or other settings, so they are not shown. Press Generate to make new ones.',
      );
    this.notices = notices;
    await this.selectModel(key, merged.variants, { keepChat: true });
    this.persistNow();
  }

  get params(): GenerateParams {
    return paramsOf(this.settings, this.prompt);
  }

  async #loadServedIndex(): Promise<void> {
    if (this.served.variants) return;
    this.served = await this.servedModels();
  }

  /** Switches model; `variants` (e.g. from a share link) picks the columns, else the model's defaults. */
  async selectModel(key: string, variants?: string[], opts: { keepChat?: boolean } = {}): Promise<void> {
    if (key === TINY_MODEL.key) await this.#loadServedIndex();
    const known = this.models.find((m) => m.key === key);
    const model = known ?? this.models.find((m) => m.key === DEFAULT_MODEL_KEY)!;
    if (!known)
      this.notices = [
        ...this.notices,
        `Model ${key} is not available here (a model opened on another browser?); showing ${model.name}.`,
      ];
    const changed = model.key !== this.modelKey;
    if (changed) this.#results = {};
    this.modelKey = model.key;
    if (!opts.keepChat) this.settings.chatTemplate = model.instruct;
    const stems = new Set((model.variants ?? []).map((v) => v.stem));
    const wanted = (variants ?? this.#choices[model.key] ?? model.defaultVariants).filter((s) => stems.has(s));
    this.selected = wanted.length ? wanted : model.defaultVariants.filter((s) => stems.has(s));
    this.#choices[model.key] = this.selected;
    this.library.modelChosen(model.key);
    this.#syncColumns(changed || this.columns.length === 0);
    this.#persistSoon();
    if (changed && this.settings.live && this.#armed) this.#scheduleLive();
  }

  /** Opens files from disk; a model that passes every check becomes the current one, a refused one never does. */
  async importFiles(picked: PickedFile[]): Promise<CatalogModel | null> {
    const entry = await this.library.importFiles(picked, this.modelKey);
    if (entry) await this.selectModel(entry.key);
    return entry;
  }

  /** Adds or removes the column of one variant. */
  toggleVariant(stem: string, on: boolean): void {
    const set = new Set(this.selected);
    if (on) set.add(stem);
    else set.delete(stem);
    this.selected = this.variants.map((v) => v.stem).filter((s) => set.has(s));
    this.#choices[this.modelKey] = this.selected;
    this.#syncColumns(false);
    this.#persistSoon();
    if (on && this.settings.live && this.#active()) this.#scheduleLive();
  }

  /** Makes the columns match the selection: new workers for new variants, disposal of the rest. */
  #syncColumns(modelChanged: boolean): void {
    const model = this.model;
    const keep = modelChanged ? [] : this.columns.filter((c) => this.selected.includes(c.variant.stem));
    for (const c of this.columns) if (!keep.includes(c)) c.dispose();
    const byStem = new Map(keep.map((c) => [c.variant.stem, c]));
    this.columns = !model
      ? []
      : this.selected.map((stem) => {
          const have = byStem.get(stem);
          if (have) return have;
          const c = new Column(
            model.ref,
            this.variants.find((v) => v.stem === stem)!,
            {
              startWorker: this.startWorker,
              platform: () => this.platform,
              devicePreference: () => this.settings.device,
              columns: () => this.columns.length,
              onDone: () => this.#remember(),
            },
          );
          const r = this.#results[stem];
          if (r) c.restore(r);
          return c;
        });
  }

  /** Changes settings; in live mode, regenerates every active column after a quiet moment. */
  update(patch: Partial<Settings>): void {
    const deviceChanged = patch.device !== undefined && patch.device !== this.settings.device;
    Object.assign(this.settings, patch);
    this.#persistSoon();
    if (deviceChanged) {
      const active = this.#active();
      for (const c of this.columns) c.unload();
      if (active && this.settings.live) this.#scheduleLive();
      return;
    }
    const sampling = Object.keys(patch).some((k) => k !== 'live');
    if (sampling && this.settings.live && this.#active()) this.#scheduleLive();
  }

  setPrompt(prompt: string): void {
    this.prompt = prompt;
    this.#persistSoon();
    if (this.settings.live && this.#active()) this.#scheduleLive();
  }

  /** Live mode acts once Generate has been pressed in this page session, or a column has been loaded. */
  #active(): boolean {
    return this.#armed || this.columns.some((c) => c.loaded || c.status === 'loading' || c.status === 'generating');
  }

  /** Live mode: stop the runs in flight now (their text is about to be stale), regenerate once the controls rest. */
  #scheduleLive(): void {
    for (const c of this.columns) c.stop();
    clearTimeout(this.#liveTimer);
    this.#liveTimer = setTimeout(() => this.generate(), LIVE_DEBOUNCE_MS);
  }

  /** Starts a new generation in every column (loading those not loaded yet); older runs are dropped. */
  generate(): number {
    clearTimeout(this.#liveTimer);
    if (this.latency.measuring) this.latency.cancel();
    const gen = ++this.#gen;
    const params = this.params;
    this.#armed = true;
    // The columns drop their text now: what storage keeps from here on comes from this run, and
    // until every column has ended, a reload says that this run was cut short.
    this.#results = {};
    this.#resultsFor = params;
    this.#running = params;
    this.persistNow();
    void Promise.all(this.columns.map((c) => c.generate(params, gen))).then(() => {
      if (gen !== this.#gen) return;
      this.#running = undefined;
      this.#persistSoon();
    });
    return gen;
  }

  stop(): void {
    clearTimeout(this.#liveTimer);
    for (const c of this.columns) c.stop();
  }

  /** Loads every column without generating. */
  load(): void {
    for (const c of this.columns) void c.load();
  }

  /** Index of the first token where `c` differs from the fp32 column (-1: none known). */
  divergence(c: Column): number {
    const ref = this.reference;
    if (!ref || ref === c || ref.generation !== c.generation || ref.restored !== c.restored) return -1;
    const complete = ref.status === 'done' && c.status === 'done';
    return firstDivergence(ref.ids, c.ids, complete);
  }

  #remember(): void {
    const out: Record<string, ColumnResult> = {};
    for (const c of this.columns) if (c.status === 'done' || c.restored) out[c.variant.stem] = c.result();
    this.#results = out;
    this.#persistSoon();
  }

  #persistSoon(): void {
    clearTimeout(this.#persistTimer);
    this.#persistTimer = setTimeout(() => this.persistNow(), PERSIST_DEBOUNCE_MS);
  }

  /** Writes storage and the URL now. */
  persistNow(): void {
    clearTimeout(this.#persistTimer);
    const rec = {
      version: 1 as const,
      settings: $state.snapshot(this.settings),
      prompt: this.prompt,
      model: this.modelKey,
      variants: this.selected,
      results: this.#results,
      resultsFor: this.#resultsFor,
      running: this.#running,
      choices: this.#choices,
    };
    save(rec);
    this.shareUrl = mirrorUrl(rec);
  }

  dismissNotices(): void {
    this.notices = [];
  }

  dispose(): void {
    clearTimeout(this.#liveTimer);
    clearTimeout(this.#persistTimer);
    for (const c of this.columns) c.dispose();
  }
}

function paramsOf(s: Settings, prompt: string): GenerateParams {
  return {
    prompt,
    maxNewTokens: s.maxNewTokens,
    temperature: s.temperature,
    topK: s.topK,
    topP: s.topP,
    repetitionPenalty: s.repetitionPenalty,
    seed: s.seed,
    chatTemplate: s.chatTemplate,
  };
}

function clip(text: string, max = 60): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

// The playground's state: which model, which of its variants are columns, the prompt and the
// sampling settings, live mode (debounced regeneration of every column), and the generation
// counter that lets each column drop tokens of a run that a newer one replaced. The latency
// panel's state is its own class (latency.svelte.ts), fed from here.

import type { StartColumnWorker } from '../browser/column-client';
import { fetchServedModels, type ServedModels } from '../browser/served-models';
import { DEFAULT_MODEL_KEY, HUB_MODELS, SERVED_MODELS, type CatalogModel } from '../lib/catalog';
import { firstDivergence } from '../lib/page/token-divergence';
import { compareTooLarge } from '../lib/page/token-compare';
import { detectPlatform, type PlatformInfo } from '../lib/page/platform';
import type { GenerateParams } from '../lib/runner/types';
import { describeError, toErrorInfo } from '../lib/errors';
import { checkHost } from '../lib/hub/host';
import type { ModelRef } from '../lib/model/ref';
import { DEFAULT_PROMPT, DEFAULT_SETTINGS, mergeSettings, parseRefKey, type Settings } from '../lib/page/settings';
import { FP32_STEM, type VariantInfo } from '../lib/variants/table';
import { LoadGate, parallelLoads } from '../lib/page/load-gate';
import { checkBudget, defaultBudget, plannedTokens, type ModelShape } from '../lib/page/memory-budget';
import { Column, type ColumnResult } from './column.svelte.ts';
import { HubRepos } from './hub.svelte.ts';
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
  /** Each served model's variants (from models/index.json), or why they are unknown, by model id. */
  #served = $state.raw<Record<string, ServedModels>>({});
  shareUrl = $state('');
  /** init() has ended: the start-up model is selected (and its first generation started, when it runs on opening). */
  ready = $state(false);
  /** The latency panel: bandwidth and the floor measurement over these columns. */
  readonly latency = new Latency({
    columns: () => this.columns,
    prompt: () => this.prompt,
    maxNewTokens: () => this.settings.maxNewTokens,
    // The floor is not measured while tokens are being compared: those passes would slow it.
    busy: () => this.busy || this.comparing,
  });

  /** Hub models (opened by id, then the catalog's suggestions), the built-in models, then the user's own. */
  get models(): CatalogModel[] {
    const opened = this.hub.opened;
    return [
      ...opened,
      ...HUB_MODELS.filter((m) => !opened.some((o) => o.key === m.key)),
      ...SERVED_MODELS.map((m) => {
        const variants = this.#served[m.ref.id]?.variants;
        return variants ? { ...m, variants } : m;
      }),
      ...this.library.entries,
    ];
  }
  /** The current model's served index entry, or why it is missing (empty for a model that is not served). */
  get served(): ServedModels {
    const ref = this.model?.ref;
    return ref?.kind === 'served' ? (this.#served[ref.id] ?? {}) : {};
  }
  readonly model: CatalogModel | undefined = $derived.by(() => this.models.find((m) => m.key === this.modelKey));
  readonly variants: VariantInfo[] = $derived(this.model?.variants ?? []);
  readonly reference: Column | undefined = $derived(this.columns.find((c) => c.variant.stem === FP32_STEM));
  readonly busy: boolean = $derived(this.columns.some((c) => c.status === 'generating' || c.status === 'loading'));
  /**
   * Every column's run has ended, and its token comparison too: what the columns show will not
   * change by itself (their output boxes may fit their text). Restored text being compared writes
   * nothing, so its columns' loads and comparisons do not count.
   */
  readonly settled: boolean = $derived(
    !this.columns.some(
      (c) =>
        c.status === 'generating' ||
        (!c.restored &&
          (c.status === 'loading' || c.comparison.state === 'waiting' || c.comparison.state === 'computing')),
    ),
  );
  /** A token comparison with fp32 is waiting for the run to end or being computed. */
  readonly comparing: boolean = $derived(
    this.columns.some((c) => c.comparison.state === 'waiting' || c.comparison.state === 'computing'),
  );

  /** navigator.deviceMemory (GB, rounded down to a power of two and capped) where the browser gives it. */
  readonly deviceMemoryGb: number | undefined = (globalThis.navigator as { deviceMemory?: number } | undefined)
    ?.deviceMemory;
  /** The memory budget in bytes: the setting, else the default for this device. */
  readonly budgetBytes: number = $derived(
    this.settings.memoryBudgetMb > 0 ? this.settings.memoryBudgetMb * 1024 * 1024 : defaultBudget(this.deviceMemoryGb),
  );
  /** Columns build their sessions a few at a time (load-gate.ts). */
  readonly loadGate = new LoadGate(() => parallelLoads(this.platform?.hardwareConcurrency ?? 1));
  /** Each model's config shape, read once by the first column that loads it. */
  #shapes = new Map<string, Promise<ModelShape | undefined>>();

  #gen = 0;
  /** Settles when init() has ended, having started the generation the page opens with (if any). */
  #open!: () => void;
  readonly #opened = new Promise<void>((r) => (this.#open = r));
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

  /** `servedModels` reads a built-in model's variants (the site's models/index.json by default). */
  constructor(
    readonly library: Library,
    private readonly startWorker: StartColumnWorker,
    private readonly servedModels: (id: string) => Promise<ServedModels> = (id) =>
      fetchServedModels(document.baseURI, id),
    /** Hub repositories opened by id (listed through the Model host's tree API). */
    readonly hub: HubRepos = new HubRepos(),
    /** The browser's platform; the page passes the one asked for at its start (browser/prestart.ts). */
    private readonly findPlatform: () => Promise<PlatformInfo> = detectPlatform,
  ) {}

  /**
   * Reads storage and the URL (the URL wins), then finds the platform and the models; on a built-in
   * model with nothing kept from the last visit, it generates at once when the autorun setting is on.
   */
  /**
   * `reload`: the page was reloaded. Its address bar then holds the settings as last mirrored, which
   * lag the record saved when the page went (the mirror is debounced): the saved record wins. On any
   * other navigation (a share link, a typed address) the address bar's settings win.
   */
  async init(search: string, { reload = false }: { reload?: boolean } = {}): Promise<void> {
    try {
      await this.#init(search, reload);
      if (this.#shouldAutorun()) this.generate();
    } finally {
      this.ready = true;
      this.#open();
    }
  }

  /**
   * Settles once init() has ended and every column has loaded and prefilled the generation the page
   * opened with (at once if it opened without one): the page's start-up.
   */
  async started(): Promise<void> {
    await this.#opened;
    for (const c of this.columns) await c.settled();
  }

  /**
   * The first screen runs without a click, but only offline work: a built-in (served) model, whose
   * files this site serves, never a Hub download nobody asked for; and not over restored results.
   */
  #shouldAutorun(): boolean {
    return (
      this.settings.autorun &&
      this.model?.ref.kind === 'served' &&
      this.columns.length > 0 &&
      !this.columns.some((c) => c.restored)
    );
  }

  async #init(search: string, reload: boolean): Promise<void> {
    const { stored, url, results, resultsModel, resultsFor, running, choices } = readInputs(search);
    const merged = reload ? mergeSettings(url, stored) : mergeSettings(stored, url);
    this.settings = merged.settings;
    this.prompt = merged.prompt;
    const notices = [...merged.messages];
    const key = merged.model ?? DEFAULT_MODEL_KEY;
    this.#choices = choices;
    // A Hub repository outside the catalog (a share link's model=hub:owner/name) is listed first.
    const ref = parseRefKey(key);
    const listing =
      ref?.kind === 'hub' && !HUB_MODELS.some((m) => m.key === key)
        ? this.hub.open(ref.id, this.settings.host)
        : Promise.resolve(null);
    // The stored models' list waits on the builder worker: only a stored model's page waits for it.
    const library = this.library.refresh();
    await Promise.all([
      this.findPlatform().then((p) => (this.platform = p)),
      ref?.kind === 'local' ? library : undefined,
      listing,
      // A built-in model's file list is read while the platform is found (the columns need both).
      ref?.kind === 'served' ? this.#loadServedIndex(ref.id) : undefined,
    ]);
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

  async #loadServedIndex(id: string): Promise<void> {
    if (this.#served[id]?.variants) return;
    const entry = await this.servedModels(id);
    this.#served = { ...this.#served, [id]: entry };
  }

  /** Switches model; `variants` (e.g. from a share link) picks the columns, else the model's defaults. */
  async selectModel(
    key: string,
    variants?: string[],
    opts: { keepChat?: boolean; relisted?: boolean } = {},
  ): Promise<void> {
    const known = this.models.find((m) => m.key === key);
    const fallback = known ?? this.models.find((m) => m.key === DEFAULT_MODEL_KEY)!;
    if (fallback.ref.kind === 'served') await this.#loadServedIndex(fallback.ref.id);
    const model = this.models.find((m) => m.key === fallback.key)!;
    const hubStatus = this.hub.status;
    if (!known)
      this.notices = [
        ...this.notices,
        key.startsWith('hub:') && hubStatus.state === 'error'
          ? `${describeError(hubStatus.problem)} Showing ${model.name} instead.`
          : `Model ${key} is not available here (a model opened on another browser?); showing ${model.name}.`,
      ];
    const changed = model.key !== this.modelKey || opts.relisted === true;
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

  /**
   * Opens a Hub repository by id (owner/name) from the Model host: on success it becomes the
   * current model, with the precisions its host lists; failures are shown in `hub.status`.
   */
  async openHubModel(text: string): Promise<CatalogModel | null> {
    const entry = await this.hub.open(text, this.settings.host);
    if (!entry) return null;
    // Listed again (e.g. from another host): its columns start over with the new listing.
    await this.selectModel(entry.key, undefined, { relisted: true });
    return entry;
  }

  /**
   * Sets the Model host (checked: an http(s) URL); returns the problem, or null once set. Hub
   * columns start over, since their files now come from the new host; a repository opened by id
   * is listed again there.
   */
  setHost(text: string): string | null {
    const c = checkHost(text);
    if ('problem' in c) return c.problem;
    if (c.host === this.settings.host) return null;
    this.settings.host = c.host;
    this.#persistSoon();
    const model = this.model;
    if (model?.ref.kind !== 'hub') return null;
    this.#syncColumns(true);
    // A repository opened by id is listed again on the new host (it may hold other files there).
    if (this.hub.opened.some((m) => m.key === model.key)) void this.openHubModel(model.ref.id);
    return null;
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
            this.#refOf(model),
            this.variants.find((v) => v.stem === stem)!,
            {
              startWorker: this.startWorker,
              platform: () => this.platform,
              devicePreference: () => this.settings.device,
              columns: () => this.columns.length,
              onDone: () => this.#remember(),
              loadGate: this.loadGate,
              budget: {
                modelShape: (read) => this.#modelShape(model.key, read),
                tokens: () => plannedTokens(this.prompt, this.settings.maxNewTokens, this.settings.chatTemplate),
                admit: (column, need) =>
                  checkBudget(
                    column.variant.label,
                    need.total,
                    this.budgetBytes,
                    this.columns
                      .filter((c) => c !== column && c.holdsMemory)
                      .map((c) => ({ label: c.variant.label, bytes: c.memory!.total })),
                  ),
              },
            },
          );
          const r = this.#results[stem];
          if (r) c.restore(r);
          return c;
        });
    this.#markRestored();
    // New columns' workers and ONNX Runtime start now (with their share of threads, so once the
    // columns are counted), while the page settles: Generate then only loads the model. One after
    // another, the first column first; the rest once it has also loaded and prefilled, if the page
    // opened with a generation (init() has asked for it by #opened), so the first token does not
    // share the cores with them.
    const [first, ...rest] = this.columns.filter((c) => !keep.includes(c));
    if (first)
      void rest.reduce(
        (ready: Promise<unknown>, c) => ready.then(() => c.warm()),
        first
          .warm()
          .then(() => this.#opened)
          .then(() => first.settled()),
      );
  }

  /** The model's ref as columns load it: a Hub model with the Model host it comes from. */
  #refOf(model: CatalogModel): ModelRef {
    return model.ref.kind === 'hub' ? { ...model.ref, host: this.settings.host } : model.ref;
  }

  /**
   * One read of a model's shape shared by its columns: they all wait for the same promise, so they
   * are admitted in column order. A failed read is forgotten (Retry reads again).
   */
  #modelShape(key: string, read: () => Promise<ModelShape | undefined>): Promise<ModelShape | undefined> {
    let p = this.#shapes.get(key);
    if (!p) {
      p = read();
      this.#shapes.set(key, p);
      p.catch(() => this.#shapes.delete(key));
    }
    return p;
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
    const sampling = Object.keys(patch).some((k) => k !== 'live' && k !== 'memoryBudgetMb' && k !== 'autorun');
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
    const columns = this.columns;
    const runs = columns.map((c) => c.generate(params, gen));
    // The token comparison waits for every column: the baseline's teacher-forced passes never
    // compete with a column's decoding for the cores.
    const base = this.reference;
    for (const c of columns) c.comparison = base ? { state: 'waiting' } : { state: 'none' };
    void Promise.all(runs).then(async () => {
      if (gen !== this.#gen) return;
      this.#running = undefined;
      this.#persistSoon();
      await this.#compareTokens(gen, params, columns);
    });
    return gen;
  }

  /**
   * Restored text beside a restored fp32 column can be compared token by token as after a run, once
   * the models are loaded again: those columns say so ('restored') until compareRestored().
   */
  #markRestored(): void {
    const base = this.reference;
    const can = base?.restored === true && base.ids.length > 0;
    for (const c of this.columns)
      if (c.restored && c.comparison.state === 'none' && can && c.ids.length > 0) c.comparison = { state: 'restored' };
      else if (c.comparison.state === 'restored' && !can) c.comparison = { state: 'none' };
  }

  /** Some column shows restored text whose token comparison compareRestored() can compute. */
  get canCompareRestored(): boolean {
    return this.columns.some((c) => c.comparison.state === 'restored');
  }

  /**
   * The token comparison of text restored from the last visit, the same as after a run: loads the
   * restored columns (no new text is written) and compares their kept tokens with the restored fp32
   * column's, on the prompt and settings they were written with. A Generate meanwhile drops it.
   */
  async compareRestored(): Promise<void> {
    const base = this.reference;
    const params = this.#resultsFor;
    // The baseline's distributions are computed again with the rest (a column restored later, e.g.
    // ticked again, is compared with the baseline already compared).
    const columns = this.columns.filter((c) => c.comparison.state === 'restored' || (c === base && c.restored));
    if (!base || !params || !base.restored || columns.length < 1) return;
    const gen = this.#gen;
    for (const c of columns) c.comparison = { state: 'waiting' };
    const loaded = await Promise.all(columns.map((c) => c.load()));
    if (gen !== this.#gen) return;
    // A column that could not load shows its error, and can be compared again from its Compare.
    for (const [i, c] of columns.entries()) if (!loaded[i] && c.restored) c.comparison = { state: 'restored' };
    // The baseline's column shows why it did not load; every column offers Compare again.
    if (!base.loaded) {
      for (const c of columns) if (c.restored) c.comparison = { state: 'restored' };
      return;
    }
    await this.#compareTokens(
      gen,
      params,
      columns.filter((_, i) => loaded[i]),
      (c) => c.restored,
    );
  }

  /**
   * Compares each finished column of generation `gen` with the fp32 column, token by token: the
   * column's own teacher-forced logits on its ids, then the baseline's on the same ids, in the
   * baseline's worker (ColumnApi.compareTokens). One column at a time; a newer run drops the rest.
   * `isResult` says which text is compared: by default this run's finished columns (restored text
   * in compareRestored).
   */
  async #compareTokens(
    gen: number,
    params: GenerateParams,
    columns: Column[],
    isResult: (c: Column) => boolean = (c) => c.generation === gen && c.status === 'done',
  ): Promise<void> {
    const base = this.reference;
    const stale = () => gen !== this.#gen;
    const comparable = (c: Column) => isResult(c) && c.loaded && c.ids.length > 0;
    if (!base || !columns.includes(base) || !comparable(base)) {
      const why = base
        ? `The ${base.variant.label} column did not finish this run, so tokens are not compared.`
        : undefined;
      for (const c of columns)
        if (c.comparison.state === 'waiting')
          c.comparison = why ? { state: 'unavailable', message: why } : { state: 'none' };
      return;
    }
    let promptIds: number[];
    try {
      promptIds = await base.encode(params);
    } catch (err) {
      if (stale()) return;
      for (const c of columns)
        if (c.comparison.state === 'waiting')
          c.comparison = { state: 'unavailable', message: describeError(toErrorInfo(err)) };
      return;
    }
    const vocab = (await this.#shapes.get(this.modelKey)?.catch(() => undefined))?.vocab;
    for (const c of [base, ...columns.filter((x) => x !== base)]) {
      if (stale()) return;
      if (!comparable(c)) {
        if (c.comparison.state === 'waiting') c.comparison = { state: 'none' };
        continue;
      }
      const ids = [...promptIds, ...c.ids];
      const tooLarge = vocab ? compareTooLarge(ids.length, vocab) : null;
      if (tooLarge) {
        c.comparison = { state: 'unavailable', message: tooLarge };
        continue;
      }
      c.comparison = { state: 'computing' };
      // Whose worker the failing pass ran in: the column's own logits, or the baseline's comparison.
      let worker = c;
      try {
        const other = c === base ? null : await c.teacherLogits(ids);
        if (stale()) return;
        worker = base;
        const r = await base.compareAsBaseline(ids, promptIds.length - 1, other);
        if (stale() || !isResult(c)) return;
        c.comparison = { state: 'done', ...r };
      } catch (err) {
        if (stale() || !isResult(c)) return;
        c.comparison = {
          state: 'unavailable',
          message: `Token comparison failed (in the ${worker.variant.label} column's worker): ${describeError(toErrorInfo(err))}`,
        };
      }
    }
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
    // Restored text is a finished run's (only those are kept).
    const complete = (ref.status === 'done' || ref.restored) && (c.status === 'done' || c.restored);
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

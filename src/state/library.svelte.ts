// The user's own models: what is in browser storage, opening new ones from disk through the
// builder worker (progress, cancel), and quantizing a stored model into more variants.

import { proxy } from 'comlink';
import type {
  BuilderApi,
  BuilderProgress,
  CalibrationRequest,
  PickedFile,
  SensitivityRequest,
} from '../../workers/protocol';
import { readModelFile, type StoredModelInfo } from '../browser/opfs-store';
import { guard } from '../browser/rpc';
import type { WorkerHandle } from '../browser/workers';
import { userModelEntry, type CatalogModel } from '../lib/catalog';
import { describeError, QuantlabError, toErrorInfo, type ErrorInfo } from '../lib/errors';
import { refKey } from '../lib/model/ref';
import { MANIFEST_PATH } from '../lib/variants/manifest';
import type { SensitivityReport } from '../lib/quantize/sensitivity';
import type { QuantizeOptions } from '../lib/variants/options';

/** Options the quantize dialog collects: the quantizer's options without the dtype. */
export type QuantizeRequestOptions = Omit<QuantizeOptions, 'dtype'>;

export interface Task {
  kind: 'import' | 'quantize' | 'sensitivity';
  message: string;
  fraction: number;
  /** Estimated seconds left, when the builder gives one (calibrated quantization). */
  secondsLeft?: number;
}

export class Library {
  /** The stored models as catalog entries (variants labelled from files and manifest). */
  entries = $state.raw<CatalogModel[]>([]);
  task = $state<Task | null>(null);
  /** One line about the last import or quantization (the page's #import-status). */
  status = $state('');
  /** Key of the model `status` is about: it goes when another model is chosen ('' = no model). */
  statusModel = $state('');
  /** Id of the model the last import stored ('' until one succeeds). */
  importedId = $state('');
  error = $state<ErrorInfo | null>(null);
  /** The last layer-sensitivity report measured, with its model and calibration text's name. */
  sensitivity = $state.raw<{ modelId: string; report: SensitivityReport; calibration: string } | null>(null);

  /**
   * `listStored` reads the stored models' list; by default the builder lists them. The page reads
   * storage itself (listModels without pruning) so that a list does not wait for, or start, the
   * builder worker, which then starts on the first import or quantization.
   */
  constructor(
    private readonly builder: WorkerHandle<BuilderApi>,
    private readonly listStored: () => Promise<StoredModelInfo[]> = () => builder.api.list(),
  ) {}

  /** Rereads the stored models and their manifests. */
  async refresh(): Promise<void> {
    try {
      const stored = await this.listStored();
      this.entries = await Promise.all(stored.map(async (info) => userModelEntry(info, await readManifest(info.id))));
    } catch (err) {
      this.error = toErrorInfo(err);
    }
  }

  /** Runs a builder task with progress; a builder crash fails it instead of hanging. */
  async #task<T>(
    kind: Task['kind'],
    start: string,
    about: string,
    fn: (onProgress: (p: BuilderProgress) => void) => Promise<T>,
  ): Promise<T | null> {
    this.error = null;
    this.task = { kind, message: start, fraction: 0 };
    this.status = start;
    this.statusModel = about;
    // Progress travels on its own channel and may arrive after the result: once the task has
    // ended, progress is ignored, so the status line always shows the task's outcome.
    let ended = false;
    const onProgress = proxy((p: BuilderProgress) => {
      if (ended) return;
      this.task = { kind, message: p.message, fraction: p.fraction, secondsLeft: p.secondsLeft };
      this.status = p.message;
    });
    try {
      return await guard(
        this.builder,
        fn(onProgress),
        (message) =>
          new QuantlabError('internal', `The model builder crashed: ${message}`, 'Reload the page and try again.'),
      );
    } catch (err) {
      const e = (this.error = toErrorInfo(err));
      this.status = e.code === 'cancelled' ? 'Cancelled' : `Error: ${describeError(e)}`;
      return null;
    } finally {
      ended = true;
      this.task = null;
    }
  }

  /**
   * Converts and stores opened files (llama2.c pair, HF folder, transformers.js folder). Every
   * file is checked before it is stored; a refused import stores nothing. `current` is the key
   * of the model on screen: a failure's message belongs to it and goes when another is chosen.
   */
  async importFiles(picked: PickedFile[], current = ''): Promise<CatalogModel | null> {
    this.importedId = '';
    if (picked.length === 0) return null;
    const info = await this.#task(
      'import',
      `Importing ${picked.length} file${picked.length === 1 ? '' : 's'}…`,
      current,
      (cb) => this.builder.api.importFiles(picked, cb),
    );
    if (!info) return null;
    await this.refresh();
    this.importedId = info.id;
    this.status = `Imported ${info.id}`;
    this.statusModel = refKey({ kind: 'local', id: info.id });
    return this.entries.find((e) => e.ref.id === info.id) ?? null;
  }

  /** Another model is on screen: a message about a different model goes (a running task's stays). */
  modelChosen(key: string): void {
    if (this.task || this.statusModel === key) return;
    this.status = '';
    this.statusModel = '';
    this.error = null;
  }

  cancel(): void {
    void this.builder.api.cancel();
  }

  async remove(id: string): Promise<void> {
    await this.builder.api.remove(id);
    await this.refresh();
  }

  /** Writes more variants of a stored model (the builder quantizes and updates the manifest). */
  async quantize(
    modelId: string,
    dtypes: string[],
    options: QuantizeRequestOptions,
    calibration?: CalibrationRequest,
  ): Promise<CatalogModel | null> {
    // Reactive arrays are proxies, which cannot cross to a worker: send plain copies.
    const plainDtypes = $state.snapshot(dtypes);
    const plainOptions = $state.snapshot(options) as QuantizeRequestOptions;
    const plainCalibration = calibration && ($state.snapshot(calibration) as CalibrationRequest);
    const label = plainDtypes.join(', ');
    const info = await this.#task(
      'quantize',
      `Quantizing ${modelId} to ${label}…`,
      refKey({ kind: 'local', id: modelId }),
      (cb) => this.builder.api.quantize(modelId, plainDtypes, plainOptions, cb, plainCalibration),
    );
    if (!info) return null;
    await this.refresh();
    this.status = `Quantized ${modelId}: ${label}`;
    return this.entries.find((e) => e.ref.id === modelId) ?? null;
  }

  /** Layer sensitivity of a stored model's fp32 graph, measured by the builder (null: failed or cancelled, see `error`). */
  async measure(
    modelId: string,
    request: SensitivityRequest,
    calibration: CalibrationRequest,
    calibrationName = '',
  ): Promise<SensitivityReport | null> {
    const plainRequest = $state.snapshot(request) as SensitivityRequest;
    const plainCalibration = $state.snapshot(calibration) as CalibrationRequest;
    const report = await this.#task(
      'sensitivity',
      `Measuring the layer sensitivity of ${modelId}…`,
      refKey({ kind: 'local', id: modelId }),
      (cb) => this.builder.api.sensitivity(modelId, plainRequest, plainCalibration, cb),
    );
    if (report) {
      this.sensitivity = { modelId, report, calibration: calibrationName };
      this.status = `Measured the layer sensitivity of ${modelId}: ${report.entries.length} runs`;
    }
    return report;
  }
}

async function readManifest(id: string): Promise<unknown> {
  const f = await readModelFile(id, MANIFEST_PATH);
  if (!f) return undefined;
  try {
    return JSON.parse(await f.text());
  } catch {
    return undefined;
  }
}

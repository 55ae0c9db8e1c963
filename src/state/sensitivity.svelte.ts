// The Quantize dialog's layer sensitivity and mixed precision: the widths to measure, the plan's
// estimate before anything runs, the last report (kept by Library across openings), its CSV and
// JSON exports, and the budget field that plans one mixed-precision file from the report.

import type { CatalogModel } from '../lib/catalog';
import { describeError, toErrorInfo, type ErrorInfo } from '../lib/errors';
import { utf8Bytes } from '../lib/metrics/windows';
import type { GridBits } from '../lib/quantize/grid';
import { planMixed } from '../lib/quantize/mixed';
import { sensitivityCsv, sensitivityJson, type SensitivityReport } from '../lib/quantize/sensitivity';
import { estimateSensitivity, sensitivityOver, type SensitivityPlan } from '../lib/quantize/sensitivity-plan';
import { modelShape, planQuantize, quantizeOver, type QuantizePlan } from '../lib/quantize/quantize-plan';
import {
  BUDGET_WIDTHS,
  budgetBounds,
  checkBudgetField,
  mixedRequest,
  reportPlans,
  sensitivitySpec,
  type SensitivityForm,
} from '../lib/page/sensitivity-form';
import { readModelFile } from '../browser/opfs-store';
import { variantFileName } from '../lib/variants/table';
import type { CalibrationChoice } from './calibration.svelte.ts';
import type { Library } from './library.svelte.ts';
import { readDraft } from './drafts.svelte.ts';

/** The budget field's id, and its key in the drafts record. */
export const BUDGET_DRAFT = 'quantize-budget';

export class SensitivityView {
  /** Widths each weight is measured at. */
  widths = $state<GridBits[]>([4]);
  /** The width the heat map and bars show (null: the report's first). */
  shown = $state<GridBits | null>(null);
  /** The budget field, in bits per weight ('' = none); what was typed comes back after a reload. */
  budget = $state(readDraft(BUDGET_DRAFT)?.text ?? '');
  /** A failure in the page (planning), apart from the builder's. */
  error = $state<ErrorInfo | null>(null);
  /** The model's config.json, for the estimate (undefined until read, or when absent). */
  config = $state.raw<Record<string, unknown> | undefined>(undefined);

  constructor(
    private readonly library: Library,
    private readonly model: CatalogModel,
    private readonly calibration: CalibrationChoice,
    private readonly form: () => SensitivityForm & { name: string },
  ) {}

  /** Reads config.json once (the estimate's layer count). */
  async init(): Promise<void> {
    try {
      const f = await readModelFile(this.model.ref.id, 'config.json');
      this.config = f ? (JSON.parse(await f.text()) as Record<string, unknown>) : undefined;
    } catch {
      this.config = undefined;
    }
  }

  get modelName(): string {
    return this.model.name;
  }

  /** This model's last report and the name of its calibration text. */
  get last(): { report: SensitivityReport; calibration: string } | null {
    const s = this.library.sensitivity;
    return s && s.modelId === this.model.ref.id ? s : null;
  }

  get shownBits(): GridBits | undefined {
    const r = this.last?.report;
    if (!r) return undefined;
    return this.shown !== null && r.bits.includes(this.shown) ? this.shown : r.bits[0];
  }

  /** The plan before the text is read: an upper bound on windows (a token is at least a byte). */
  get estimate(): { plan?: SensitivityPlan; over?: string } {
    const c = this.calibration;
    const plan = estimateSensitivity(this.config, this.widths.length, utf8Bytes(c.resolved), c.tokens, c.window);
    return plan ? { plan, over: sensitivityOver(plan) } : {};
  }

  /** The budget run's plan before it starts: a measurement at BUDGET_WIDTHS unless the report in hand plans it, then one q4 file. */
  get mixedEstimate(): { plan?: QuantizePlan; over?: { message: string; detail: string } } {
    const shape = modelShape(this.config);
    const f = this.form();
    const c = this.calibration;
    const plan = planQuantize(shape, {
      dtypes: ['q4'],
      method: f.method,
      bits: 4,
      calibration: { tokens: c.tokens, window: c.window, textBytes: utf8Bytes(c.resolved) },
      sensitivityWidths: reportPlans(this.last?.report, f) ? 0 : BUDGET_WIDTHS.length,
    });
    return plan && shape ? { plan, over: quantizeOver(plan, shape) } : {};
  }

  /** Why the calibration fields cannot start a measurement (named at the tokens field), or undefined. */
  get calibrationProblem(): string | undefined {
    return this.calibration.problem;
  }

  async measure(): Promise<SensitivityReport | null> {
    this.error = null;
    if (this.calibrationProblem) return null;
    const f = this.form();
    const spec = sensitivitySpec(f, this.widths.length > 0 ? this.widths : [4]);
    return this.library.measure(
      this.model.ref.id,
      { method: spec.method, bits: spec.bits, blockSize: spec.blockSize, symmetric: spec.symmetric },
      this.calibration.request(),
      this.calibration.name,
    );
  }

  /** The budget field's range and message, against the report in hand or the default widths. */
  get budgetCheck(): { value?: number; message: string; min: number; max: number; widths: GridBits[] } {
    const b = budgetBounds(this.last?.report, this.form());
    return { ...b, ...checkBudgetField(this.budget, b) };
  }

  /**
   * Writes one mixed-precision q4 file under the budget: planned from the report in hand when it
   * measured these settings at two or more widths, else measured first at BUDGET_WIDTHS.
   */
  async writeMixed(): Promise<{ entry: CatalogModel; stem: string } | null> {
    this.error = null;
    const check = this.budgetCheck;
    if (check.value === undefined || this.calibrationProblem || this.mixedEstimate.over) return null;
    const f = this.form();
    let report: SensitivityReport | null | undefined = this.last?.report;
    if (!reportPlans(report, f)) {
      const spec = sensitivitySpec(f, BUDGET_WIDTHS);
      report = await this.library.measure(
        this.model.ref.id,
        { method: spec.method, bits: spec.bits, blockSize: spec.blockSize, symmetric: spec.symmetric },
        this.calibration.request(),
        this.calibration.name,
      );
      if (!report) return null;
    }
    let plan;
    try {
      plan = planMixed(report, check.value);
    } catch (err) {
      this.error = toErrorInfo(err);
      return null;
    }
    // The text goes with every mixed file: gptq and awq calibrate on it, and the manifest names it
    // (the plan came from it whatever the method).
    const options = mixedRequest(f, plan.plan);
    const entry = await this.library.quantize(this.model.ref.id, ['q4'], options, this.calibration.request());
    return entry && { entry, stem: variantFileName({ dtype: 'q4', ...options }).replace(/\.onnx$/, '') };
  }

  /** The report as `quantlab sensitivity --csv` / `--json` write it. */
  exportFile(kind: 'csv' | 'json'): { text: string; name: string; type: string } | undefined {
    const last = this.last;
    if (!last) return undefined;
    const r = last.report;
    const stem = `sensitivity-${this.model.ref.id}-${r.method}-${r.bits.join('-')}bit`;
    return kind === 'csv'
      ? { text: sensitivityCsv(r), name: `${stem}.csv`, type: 'text/csv;charset=utf-8' }
      : {
          text: sensitivityJson(r, { model: this.model.name, calib_file: last.calibration }),
          name: `${stem}.json`,
          type: 'application/json',
        };
  }

  /** The error to show: the page's, else the builder's. */
  get message(): string | undefined {
    const e = this.error;
    return e ? describeError(e) : undefined;
  }
}

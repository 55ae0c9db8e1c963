// The Quantize dialog's calibration source for gptq and awq: the built-in calibration text, a
// text the user pastes or opens, or the quality lab's text; how many tokens and how long a
// window; and whether it is the text the lab evaluates on (then the report flatters the method).

import type { CalibrationRequest } from '../../workers/protocol';
import { DEFAULT_CALIB_TOKENS, DEFAULT_CALIB_WINDOW, sameText } from '../lib/quantize/calibration';
import { CALIBRATION_TEXT } from '../lib/quantize/calibration-sample';
import { CALIB_FIELDS, calibrationProblem } from '../lib/page/quantize-form';
import { checkInRange } from '../lib/page/settings';
import { NumberField, readDraft, writeDraft } from './drafts.svelte.ts';

export type CalibrationSourceKind = 'builtin' | 'text' | 'lab';

export class CalibrationChoice {
  source = $state<CalibrationSourceKind>('builtin');
  /** Pasted or opened text (source 'text'); pasted text comes back after a reload (up to MAX_DRAFT_CHARS). */
  text = $state(readDraft('calib-text')?.text ?? '');
  /** Name of the opened file, if the text came from one. */
  fileName = $state('');
  tokens = $state<number>(DEFAULT_CALIB_TOKENS);
  window = $state<number>(DEFAULT_CALIB_WINDOW);
  /** The two numeric fields: checked as typed, applied on Enter or leaving the field, kept for the next visit. */
  readonly tokensField = new NumberField(
    'calib-tokens',
    (t) => checkInRange(CALIB_FIELDS.tokens, t),
    (v) => (this.tokens = v),
    { keep: true },
  );
  readonly windowField = new NumberField(
    'calib-window',
    (t) => checkInRange(CALIB_FIELDS.window, t),
    (v) => (this.window = v),
    { keep: true },
  );

  /** `labText` reads the quality lab's current evaluation text. */
  constructor(private readonly labText: () => string = () => '') {}

  /** The text calibration will read. */
  get resolved(): string {
    if (this.source === 'builtin') return CALIBRATION_TEXT;
    if (this.source === 'lab') return this.labText();
    return this.text;
  }

  /** How a report names the text: the built-in sample, the opened file, pasted text, or the lab's text. */
  get name(): string {
    if (this.source === 'builtin') return 'built-in calibration sample';
    if (this.source === 'lab') return "the quality lab's text";
    return this.fileName || `pasted text (${this.text.length} characters)`;
  }

  /** True when the calibration text is the lab's evaluation text. */
  get sameAsEvaluation(): boolean {
    return sameText(this.resolved, this.labText());
  }

  /** Why these settings cannot start (fewer tokens than one window), or undefined. */
  get problem(): string | undefined {
    return calibrationProblem(this.tokens, this.window);
  }

  /** What the builder worker takes. */
  request(): CalibrationRequest {
    return { text: this.resolved, name: this.name, tokens: this.tokens, window: this.window };
  }

  /** Text typed or pasted into the field (kept as a draft). */
  type(text: string): void {
    this.text = text;
    this.fileName = '';
    writeDraft('calib-text', text ? { text } : undefined);
  }

  async open(file: File): Promise<void> {
    this.text = await file.text();
    this.fileName = file.name;
    this.source = 'text';
  }
}

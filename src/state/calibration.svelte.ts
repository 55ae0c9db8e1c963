// The Quantize dialog's calibration source for gptq and awq: the built-in calibration text, a
// text the user pastes or opens, or the quality lab's text; how many tokens and how long a
// window; and whether it is the text the lab evaluates on (then the report flatters the method).

import type { CalibrationRequest } from '../../workers/protocol';
import { DEFAULT_CALIB_TOKENS, DEFAULT_CALIB_WINDOW, sameText } from '../lib/quantize/calibration';
import { CALIBRATION_TEXT } from '../lib/quantize/calibration-sample';

export type CalibrationSourceKind = 'builtin' | 'text' | 'lab';

export class CalibrationChoice {
  source = $state<CalibrationSourceKind>('builtin');
  /** Pasted or opened text (source 'text'). */
  text = $state('');
  /** Name of the opened file, if the text came from one. */
  fileName = $state('');
  tokens = $state(DEFAULT_CALIB_TOKENS);
  window = $state(DEFAULT_CALIB_WINDOW);

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

  /** What the builder worker takes. */
  request(): CalibrationRequest {
    return { text: this.resolved, name: this.name, tokens: this.tokens, window: this.window };
  }

  async open(file: File): Promise<void> {
    this.text = await file.text();
    this.fileName = file.name;
    this.source = 'text';
  }
}

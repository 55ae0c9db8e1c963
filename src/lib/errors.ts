// Typed errors that survive a worker boundary: every failure the user can cause carries a
// code, a message that names the problem, and an optional detail (what to do next).

export type ErrorCode =
  | 'bad-checkpoint'
  | 'bad-tokenizer'
  | 'bad-config'
  | 'unsupported-model'
  | 'missing-tensor'
  | 'bad-onnx'
  | 'bad-argument'
  | 'already-quantized'
  | 'no-weights'
  | 'unsupported-device'
  | 'load-failed'
  | 'over-budget'
  | 'generate-failed'
  | 'offline'
  | 'cancelled'
  | 'internal';

/** Plain-data form of an error, safe to structured-clone across postMessage. */
export interface ErrorInfo {
  code: ErrorCode;
  message: string;
  detail?: string;
}

export class QuantlabError extends Error {
  readonly code: ErrorCode;
  readonly detail?: string;
  constructor(code: ErrorCode, message: string, detail?: string) {
    super(message);
    this.name = 'QuantlabError';
    this.code = code;
    this.detail = detail;
  }
  toInfo(): ErrorInfo {
    return this.detail === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, detail: this.detail };
  }
}

/** Turns anything thrown into an ErrorInfo, keeping QuantlabError codes. */
export function toErrorInfo(err: unknown, fallback: ErrorCode = 'internal'): ErrorInfo {
  if (err instanceof QuantlabError) return err.toInfo();
  if (err && typeof err === 'object' && 'code' in err && 'message' in err && isErrorCode((err as ErrorInfo).code)) {
    const e = err as ErrorInfo;
    return { code: e.code, message: e.message, ...(e.detail ? { detail: e.detail } : {}) };
  }
  if (err instanceof Error) {
    if (err.name === 'AbortError') return { code: 'cancelled', message: 'Cancelled' };
    return { code: fallback, message: err.message };
  }
  return { code: fallback, message: String(err) };
}

const CODES = new Set<string>([
  'bad-checkpoint',
  'bad-tokenizer',
  'bad-config',
  'unsupported-model',
  'missing-tensor',
  'bad-onnx',
  'bad-argument',
  'already-quantized',
  'no-weights',
  'unsupported-device',
  'load-failed',
  'over-budget',
  'generate-failed',
  'offline',
  'cancelled',
  'internal',
]);
function isErrorCode(c: unknown): c is ErrorCode {
  return typeof c === 'string' && CODES.has(c);
}

/** The text with a closing full stop, unless it already ends a sentence (. ! ? or … , before any closing quote or bracket). */
export function asSentence(text: string): string {
  const t = text.trim();
  if (t === '') return t;
  return /[.!?…]["'”’)\]]*$/.test(t) ? t : `${t.replace(/[:;,]+$/, '')}.`;
}

/**
 * An error as the user reads it: the message as one sentence, then the detail (what to do next)
 * as its own sentence, joined by `separator` (a space on the page; the CLI puts it on a new line).
 */
export function describeError(e: { message: string; detail?: string }, separator = ' '): string {
  const message = asSentence(e.message);
  const detail = e.detail ? asSentence(e.detail) : '';
  return detail ? `${message}${separator}${detail}` : message;
}

/** Throws a 'cancelled' QuantlabError if the signal has been aborted. */
export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new QuantlabError('cancelled', 'Cancelled');
}

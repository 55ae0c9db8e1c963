// The quality lab's form fields as text, turned into the engine's options with a message naming
// the field and the value for anything unusable: not a number, out of the playground's ranges,
// too many values, or a plan over the limits of plan.ts (with its estimate and what to shrink).

import { QuantlabError } from '../errors';
import { count, LIMITS, planSweep, SWEEP_RANGES, sweepOverLimit, type SweepPlan } from './plan';
import { checkSweepGrid, type SweepGrid } from './sweep';

/** The sweep form's fields. */
export interface GridFields {
  prompt: string;
  temperatures: string;
  topKs: string;
  topPs: string;
  maxNewTokens: string;
  seeds: string;
}

/** A form field a message can belong to. */
export type FieldName = Exclude<keyof GridFields, 'prompt'> | 'ctx';

/** A bad-argument error that names the form field it is about. */
export class FieldError extends QuantlabError {
  constructor(
    readonly field: FieldName,
    message: string,
    detail?: string,
  ) {
    super('bad-argument', message, detail);
  }
}

interface ListRule {
  field: FieldName;
  /** How the field is named in messages. */
  name: string;
  example: string;
  min: number;
  max: number;
  integer: boolean;
}

const fmt = (n: number) => (Number.isInteger(n) ? count(n) : String(n));

const LISTS: Record<'temperatures' | 'topKs' | 'topPs' | 'maxNewTokens', ListRule> = {
  temperatures: { field: 'temperatures', name: 'temperatures', example: '0, 0.5, 0.8, 1', ...SWEEP_RANGES.temperature },
  topKs: { field: 'topKs', name: 'top-k', example: '1, 5, 20, 0 (0 = off)', ...SWEEP_RANGES.topK },
  topPs: { field: 'topPs', name: 'top-p', example: '0.9, 1 (1 = off)', ...SWEEP_RANGES.topP },
  maxNewTokens: { field: 'maxNewTokens', name: 'max new tokens', example: '16, 32', ...SWEEP_RANGES.maxNewTokens },
};

function tooLong(field: FieldName, name: string, text: string): FieldError | undefined {
  return text.length > LIMITS.fieldChars
    ? new FieldError(
        field,
        `${name}: ${count(text.length)} characters is too long`,
        `Keep it under ${count(LIMITS.fieldChars)} characters.`,
      )
    : undefined;
}

/** "0, 0.5,1" -> [0, 0.5, 1], each in the rule's range, at most LIMITS.listValues, no repeats. */
function parseList(text: string, r: ListRule): number[] {
  const long = tooLong(r.field, r.name, text);
  if (long) throw long;
  const parts = text.split(',').map((p) => p.trim());
  if (parts.every((p) => p === ''))
    throw new FieldError(r.field, `${r.name}: give at least one value`, `For example ${r.example}.`);
  if (parts.length > LIMITS.listValues)
    throw new FieldError(
      r.field,
      `${r.name}: ${count(parts.length)} values is too many`,
      `Give at most ${LIMITS.listValues}.`,
    );
  const rule = `${r.integer ? 'a whole number' : 'a number'} from ${fmt(r.min)} to ${fmt(r.max)}`;
  const out: number[] = [];
  for (const p of parts) {
    const n = p.toLowerCase() === 'off' && r.field === 'topKs' ? 0 : Number(p);
    if (p === '' || !Number.isFinite(n))
      throw new FieldError(
        r.field,
        `${r.name}: "${p.slice(0, 40)}" is not a number`,
        `Give numbers separated by commas, for example ${r.example}.`,
      );
    if ((r.integer && !Number.isInteger(n)) || n < r.min || n > r.max)
      throw new FieldError(r.field, `${r.name}: ${p.slice(0, 40)} is not ${rule}`, `For example ${r.example}.`);
    if (out.includes(n)) throw new FieldError(r.field, `${r.name}: ${p} is listed twice`);
    out.push(n);
  }
  return out;
}

/** A whole number from min to max from a field (named in the message). */
export function parseWhole(text: string, field: FieldName, name: string, min: number, max = Infinity): number {
  const long = tooLong(field, name, text);
  if (long) throw long;
  const n = Number(text.trim());
  if (text.trim() === '' || !Number.isInteger(n) || n < min)
    throw new FieldError(field, `${name} must be a whole number >= ${min} (got "${text.slice(0, 40)}")`);
  if (n > max) throw new FieldError(field, `${name} must be at most ${count(max)} (got ${count(n)})`);
  return n;
}

/** The window field of the report: empty = automatic (undefined), else 3 .. LIMITS.ctx. */
export function parseCtx(text: string): number | undefined {
  if (text.trim() === '' && text.length <= LIMITS.fieldChars) return undefined;
  return parseWhole(text, 'ctx', 'Window (tokens)', 3, LIMITS.ctx);
}

/** The form's lists and seed count, each checked (throws a FieldError). */
function parseShape(f: GridFields) {
  return {
    temperatures: parseList(f.temperatures, LISTS.temperatures),
    topKs: parseList(f.topKs, LISTS.topKs),
    topPs: parseList(f.topPs, LISTS.topPs),
    maxNewTokens: parseList(f.maxNewTokens, LISTS.maxNewTokens),
    seeds: parseWhole(f.seeds, 'seeds', 'Seeds per cell', 1),
  };
}

/**
 * Form fields -> a checked SweepGrid (seeds 0 .. n-1, shared by every precision), refused with a
 * FieldError when a field is bad or the plan is over LIMITS for `precisions` precisions whose
 * decode speeds are `speeds`. The seed list is built only after the plan is known to fit.
 */
export function gridFromFields(f: GridFields, precisions = 1, speeds: readonly (number | undefined)[] = []): SweepGrid {
  const s = parseShape(f);
  const over = sweepOverLimit(s, precisions, speeds);
  if (over) throw new FieldError(over.maxSeeds > 0 ? 'seeds' : biggestList(s), over.message, over.detail);
  const grid: SweepGrid = {
    prompt: f.prompt,
    temperatures: s.temperatures,
    topKs: s.topKs,
    topPs: s.topPs,
    maxNewTokens: s.maxNewTokens,
    seeds: Array.from({ length: s.seeds }, (_, i) => i),
  };
  checkSweepGrid(grid);
  return grid;
}

/** The list with the most values (the first to shrink when even one seed is too many). */
function biggestList(s: ReturnType<typeof parseShape>): FieldName {
  const sizes: [FieldName, number][] = [
    ['temperatures', s.temperatures.length],
    ['topKs', s.topKs.length],
    ['topPs', s.topPs.length],
    ['maxNewTokens', s.maxNewTokens.length],
  ];
  return sizes.reduce((a, b) => (b[1] > a[1] ? b : a))[0];
}

/** What the form says now: a message per bad field, and the plan when the sweep fields are usable. */
export interface FormCheck {
  messages: Partial<Record<FieldName, string>>;
  plan?: SweepPlan;
}

/** Checks every field at once (for messages beside the fields as they are typed); never throws. */
export function checkForm(
  f: GridFields,
  ctx: string,
  precisions: number,
  speeds: readonly (number | undefined)[] = [],
): FormCheck {
  const messages: FormCheck['messages'] = {};
  const note = (fn: () => void) => {
    try {
      fn();
    } catch (err) {
      if (err instanceof FieldError) messages[err.field] = `${err.message}${err.detail ? ` ${err.detail}` : ''}`;
      else throw err;
    }
  };
  note(() => parseCtx(ctx));
  for (const key of Object.keys(LISTS) as (keyof typeof LISTS)[]) note(() => parseList(f[key], LISTS[key]));
  note(() => parseWhole(f.seeds, 'seeds', 'Seeds per cell', 1));
  if (Object.keys(messages).some((k) => k !== 'ctx')) return { messages };
  const s = parseShape(f);
  const over = sweepOverLimit(s, precisions, speeds);
  if (over) {
    const field = over.maxSeeds > 0 ? 'seeds' : biggestList(s);
    messages[field] =
      field === 'seeds'
        ? `At most ${count(over.maxSeeds)} seeds per cell with this grid and ${precisions} ${precisions === 1 ? 'precision' : 'precisions'}.`
        : `${over.message} ${over.detail}`;
  }
  return { messages, plan: planSweep(s, precisions, speeds) };
}

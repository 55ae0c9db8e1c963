// The one flag parser of the quantlab commands: strict (an unknown or misspelt flag is an error,
// not an ignored option), typed (numbers and lists arrive converted and range-checked), and every
// error names the flag and the value it refused.

import { parseArgs as parseRaw } from 'node:util';
import { QuantlabError } from '../lib/errors';

/**
 * What a flag takes. A flag without a `default` is `undefined` when absent, except a boolean,
 * which is `false`. When a flag is given twice the last value counts.
 */
export type FlagSpec =
  | { type: 'boolean' }
  | { type: 'string'; default?: string }
  /** A whole number, from `min` (if set) to `max` (if set). */
  | { type: 'int'; default?: number; min?: number; max?: number }
  /** A finite number, from `min` to `max`; `unit` names it in errors ("a number of seconds"). */
  | { type: 'number'; default?: number; min?: number; max?: number; unit?: string }
  /** Comma-separated names, trimmed, empty items dropped; a list with no item is an error. */
  | { type: 'list'; default?: readonly string[] }
  /** Comma-separated numbers ("0,0.5,1"). */
  | { type: 'numbers'; default?: readonly number[] };

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

interface TypeOfFlag {
  boolean: boolean;
  string: string;
  int: number;
  number: number;
  list: string[];
  numbers: number[];
}

/** The converted values of a set of flags. */
export type FlagValues<S extends FlagSpecs> = {
  -readonly [K in keyof S]: S[K] extends { type: 'boolean' }
    ? boolean
    : S[K] extends { default: unknown }
      ? TypeOfFlag[S[K]['type']]
      : TypeOfFlag[S[K]['type']] | undefined;
};

export interface ParsedArgs<S extends FlagSpecs> {
  values: FlagValues<S>;
  positionals: string[];
}

/** `--help` anywhere among the flags wins over everything but an unknown flag. */
export type ParseResult<S extends FlagSpecs> = ({ help: false } & ParsedArgs<S>) | { help: true };

/** Parses `args` against `flags` (plus `--help`); throws a 'bad-argument' QuantlabError. */
export function parseArgs<const S extends FlagSpecs>(args: readonly string[], flags: S): ParseResult<S> {
  const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
  for (const [name, spec] of Object.entries(flags))
    options[name] = { type: spec.type === 'boolean' ? 'boolean' : 'string' };
  let raw: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    raw = parseRaw({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new QuantlabError('bad-argument', (err as Error).message);
  }
  if (raw.values.help === true) return { help: true };
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(flags)) values[name] = convert(name, spec, raw.values[name]);
  return { help: false, values: values as FlagValues<S>, positionals: raw.positionals };
}

function convert(name: string, spec: FlagSpec, raw: string | boolean | undefined): unknown {
  if (spec.type === 'boolean') return raw === true;
  if (raw === undefined) return Array.isArray(spec.default) ? [...spec.default] : spec.default;
  const text = String(raw);
  switch (spec.type) {
    case 'string':
      return text;
    case 'int':
      return wholeNumber(name, text, spec.min, spec.max);
    case 'number':
      return finiteNumber(name, text, spec);
    case 'list': {
      const items = text
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      if (items.length === 0) throw new QuantlabError('bad-argument', `--${name} is empty`);
      return items;
    }
    case 'numbers':
      return text.split(',').map((part) => {
        const n = Number(part.trim());
        if (part.trim() === '' || !Number.isFinite(n)) {
          const example = spec.default?.join(',') ?? '0,1';
          throw new QuantlabError(
            'bad-argument',
            `--${name}: "${part}" is not a number`,
            `Give numbers separated by commas, e.g. --${name} ${example}`,
          );
        }
        return n;
      });
  }
}

function wholeNumber(name: string, text: string, min: number | undefined, max: number | undefined): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || (min !== undefined && n < min)) {
    throw new QuantlabError(
      'bad-argument',
      `--${name} must be a whole number${min === undefined ? '' : ` >= ${min}`} (got "${text}")`,
    );
  }
  if (max !== undefined && n > max)
    throw new QuantlabError('bad-argument', `--${name} must be at most ${max} (got ${n})`);
  return n;
}

function finiteNumber(name: string, text: string, spec: { min?: number; max?: number; unit?: string }): number {
  const n = Number(text);
  const { min, max, unit } = spec;
  if (text.trim() === '' || !Number.isFinite(n) || (min !== undefined && n < min) || (max !== undefined && n > max)) {
    const range =
      min !== undefined && max !== undefined
        ? ` from ${min} to ${max}`
        : min !== undefined
          ? ` >= ${min}`
          : max !== undefined
            ? ` <= ${max}`
            : '';
    throw new QuantlabError(
      'bad-argument',
      `--${name} must be a number${unit ? ` of ${unit}` : ''}${range} (got "${text}")`,
    );
  }
  return n;
}

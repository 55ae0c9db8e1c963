// The playground's settings as plain data: their ranges, defaults and labels, and their two
// outside forms (the URL query of a share link, the localStorage record). Everything read from
// outside is validated here: out-of-range values are clamped with a message that says so.

import { checkHost, DEFAULT_HUB_HOST } from '../hub/host';
import type { ModelRef } from '../model/ref';

export type DevicePreference = 'auto' | 'wasm' | 'webgpu';

/** The numeric generation controls (GenerateParams minus the prompt and chat flag). */
export interface SamplingSettings {
  temperature: number;
  topK: number;
  topP: number;
  maxNewTokens: number;
  repetitionPenalty: number;
  seed: number;
}

export interface Settings extends SamplingSettings {
  chatTemplate: boolean;
  /** Regenerate every column (debounced) whenever a control changes. */
  live: boolean;
  /** Generate once the page opens on a built-in model (the first screen runs without a click). Not in share links. */
  autorun: boolean;
  device: DevicePreference;
  /** Model host: where Hub models are fetched from (the Hub or a mirror of it); src/lib/hub/host.ts. */
  host: string;
  /** The memory budget for all columns, in MiB; 0: automatic (memory-budget.ts defaultBudget). Not in share links: it belongs to the device. */
  memoryBudgetMb: number;
}

export interface NumberSpec {
  label: string;
  min: number;
  max: number;
  step: number;
  integer: boolean;
  default: number;
  /** Name in the URL query. */
  query: string;
  /** Shown next to the control. */
  hint: string;
}

/** Ranges of the numeric controls; the sliders use the same numbers. */
export const NUMBER_SPECS: Record<keyof SamplingSettings, NumberSpec> = {
  temperature: {
    label: 'Temperature',
    min: 0,
    max: 2,
    step: 0.05,
    integer: false,
    default: 0.8,
    query: 'temperature',
    hint: '0 = greedy',
  },
  topK: { label: 'Top-k', min: 0, max: 200, step: 1, integer: true, default: 40, query: 'top_k', hint: '0 = off' },
  topP: {
    label: 'Top-p',
    min: 0.05,
    max: 1,
    step: 0.01,
    integer: false,
    default: 0.95,
    query: 'top_p',
    hint: '1 = off',
  },
  maxNewTokens: {
    label: 'Max new tokens',
    min: 1,
    max: 1024,
    step: 1,
    integer: true,
    default: 64,
    query: 'max_new_tokens',
    hint: '',
  },
  repetitionPenalty: {
    label: 'Repetition penalty',
    min: 1,
    max: 2,
    step: 0.05,
    integer: false,
    default: 1,
    query: 'repetition_penalty',
    hint: '1 = off',
  },
  seed: {
    label: 'Seed',
    min: 0,
    max: 4294967295,
    step: 1,
    integer: true,
    default: 42,
    query: 'seed',
    hint: 'same seed, same text',
  },
};

export const NUMBER_KEYS = Object.keys(NUMBER_SPECS) as (keyof SamplingSettings)[];
export const DEVICE_PREFERENCES: readonly DevicePreference[] = ['auto', 'wasm', 'webgpu'];

export const DEFAULT_SETTINGS: Settings = {
  ...(Object.fromEntries(NUMBER_KEYS.map((k) => [k, NUMBER_SPECS[k].default])) as unknown as SamplingSettings),
  chatTemplate: false,
  live: true,
  autorun: true,
  device: 'auto',
  host: DEFAULT_HUB_HOST,
  memoryBudgetMb: 0,
};

/** The largest memory budget accepted, in MiB (1 TiB: anything above is a typo). */
export const MAX_MEMORY_BUDGET_MB = 1024 * 1024;

/** Validates the memory budget (MiB, a whole number, 0 = automatic). */
export function checkMemoryBudget(raw: unknown): Checked<number> {
  const text = typeof raw === 'string' ? raw.trim() : raw;
  const n = typeof text === 'number' ? text : typeof text === 'string' && text !== '' ? Number(text) : NaN;
  if (!Number.isFinite(n) || n < 0)
    return { value: 0, message: `Memory budget: "${String(raw)}" is not a number of MB; using automatic (0).` };
  const v = Math.min(Math.round(n), MAX_MEMORY_BUDGET_MB);
  return v === n ? { value: v } : { value: v, message: `Memory budget: using ${v} MB (got ${fmt(n)}).` };
}

export const DEFAULT_PROMPT = 'I dreamed';

/** A value read from outside, with a message when it had to be changed. */
export interface Checked<T> {
  value: T;
  message?: string;
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toFixed(4)));
}

/** What checkInRange needs of a field: its name in messages, range, whether whole, and its fallback. */
export type RangeSpec = Pick<NumberSpec, 'label' | 'min' | 'max' | 'integer' | 'default'>;

/** Validates one numeric setting: not a number -> default, not whole -> rounded, out of range -> clamped. */
export function checkNumber(key: keyof SamplingSettings, raw: unknown): Checked<number> {
  return checkInRange(NUMBER_SPECS[key], raw);
}

/** checkNumber for any field with a RangeSpec (the presets' size, the calibration fields). */
export function checkInRange(s: RangeSpec, raw: unknown): Checked<number> {
  const text = typeof raw === 'string' ? raw.trim() : raw;
  const n = typeof text === 'number' ? text : typeof text === 'string' && text !== '' ? Number(text) : NaN;
  if (!Number.isFinite(n)) {
    return { value: s.default, message: `${s.label}: "${String(raw)}" is not a number; using ${fmt(s.default)}.` };
  }
  let v = n;
  let message: string | undefined;
  if (s.integer && !Number.isInteger(v)) {
    v = Math.round(v);
    message = `${s.label} must be a whole number (got ${fmt(n)}); using ${fmt(v)}.`;
  }
  if (v < s.min) {
    message = `${s.label} ${fmt(n)} is below the minimum ${fmt(s.min)}; using ${fmt(s.min)}.`;
    v = s.min;
  } else if (v > s.max) {
    message = `${s.label} ${fmt(n)} is above the maximum ${fmt(s.max)}; using ${fmt(s.max)}.`;
    v = s.max;
  }
  return message ? { value: v, message } : { value: v };
}

function checkBoolean(label: string, raw: unknown, fallback: boolean): Checked<boolean> {
  if (typeof raw === 'boolean') return { value: raw };
  if (raw === '1' || raw === 'true' || raw === 'on') return { value: true };
  if (raw === '0' || raw === 'false' || raw === 'off') return { value: false };
  return { value: fallback, message: `${label}: "${String(raw)}" is not on/off (1 or 0); using ${fallback ? 1 : 0}.` };
}

function checkDevice(raw: unknown, fallback: DevicePreference): Checked<DevicePreference> {
  if (DEVICE_PREFERENCES.includes(raw as DevicePreference)) return { value: raw as DevicePreference };
  return {
    value: fallback,
    message: `Device: "${String(raw)}" is not one of ${DEVICE_PREFERENCES.join(', ')}; using ${fallback}.`,
  };
}

/** Parses "hub:org/name", "served:id" or "local:id" (the form refKey() writes). */
export function parseRefKey(key: string): ModelRef | undefined {
  const m = /^(hub|served|local):(.+)$/.exec(key);
  return m ? ({ kind: m[1], id: m[2] } as ModelRef) : undefined;
}

/** What a URL or a stored record says, validated; absent keys stay absent. */
export interface SettingsInput {
  settings: Partial<Settings>;
  prompt?: string;
  model?: string;
  variants?: string[];
  messages: string[];
}

const MAX_PROMPT = 4000;

/** Validates a loose record of setting values keyed by their Settings names (stored) or query names (URL). */
function readRecord(get: (settingsKey: string, queryKey: string) => unknown): SettingsInput {
  const out: SettingsInput = { settings: {}, messages: [] };
  const note = (c: Checked<unknown>) => c.message && out.messages.push(c.message);
  for (const k of NUMBER_KEYS) {
    const raw = get(k, NUMBER_SPECS[k].query);
    if (raw === undefined || raw === null) continue;
    const c = checkNumber(k, raw);
    note(c);
    out.settings[k] = c.value;
  }
  const bools: [keyof Settings & ('chatTemplate' | 'live' | 'autorun'), string, string][] = [
    ['chatTemplate', 'chat', 'Chat template'],
    ['live', 'live', 'Live mode'],
    ['autorun', 'autorun', 'Generate on opening'],
  ];
  for (const [k, q, label] of bools) {
    const raw = get(k, q);
    if (raw === undefined || raw === null) continue;
    const c = checkBoolean(label, raw, DEFAULT_SETTINGS[k]);
    note(c);
    out.settings[k] = c.value;
  }
  const dev = get('device', 'device');
  if (dev !== undefined && dev !== null) {
    const c = checkDevice(dev, DEFAULT_SETTINGS.device);
    note(c);
    out.settings.device = c.value;
  }
  const host = get('host', 'host');
  if (host !== undefined && host !== null) {
    const c = checkHost(host);
    if ('host' in c) out.settings.host = c.host;
    else out.messages.push(`${c.problem} Keeping the Model host you had.`);
  }
  const budget = get('memoryBudgetMb', 'memory_budget');
  if (budget !== undefined && budget !== null) {
    const c = checkMemoryBudget(budget);
    note(c);
    out.settings.memoryBudgetMb = c.value;
  }
  const prompt = get('prompt', 'prompt');
  if (typeof prompt === 'string') {
    out.prompt = prompt.slice(0, MAX_PROMPT);
    if (prompt.length > MAX_PROMPT) out.messages.push(`The prompt was cut to ${MAX_PROMPT} characters.`);
  }
  const model = get('model', 'model');
  if (typeof model === 'string' && model !== '') {
    if (parseRefKey(model)) out.model = model;
    else out.messages.push(`Model "${model}" is not of the form hub:<id>, served:<id> or local:<id>; ignored.`);
  }
  const variants = get('variants', 'variants');
  if (typeof variants === 'string' || Array.isArray(variants)) {
    const list = (Array.isArray(variants) ? variants : variants.split(',')).filter(
      (v): v is string => typeof v === 'string' && /^[A-Za-z0-9._-]+$/.test(v),
    );
    out.variants = [...new Set(list)];
  }
  return out;
}

/** Reads the settings a share link carries (?temperature=0.7&seed=5...). */
export function settingsFromQuery(search: string): SettingsInput {
  const q = new URLSearchParams(search);
  return readRecord((_k, query) => q.get(query) ?? undefined);
}

/** The query string (without '?') of a share link for these settings. */
export function settingsToQuery(
  s: Settings,
  extra: { prompt?: string; model?: string; variants?: string[] } = {},
): string {
  const q = new URLSearchParams();
  if (extra.model) q.set('model', extra.model);
  if (extra.variants?.length) q.set('variants', extra.variants.join(','));
  for (const k of NUMBER_KEYS) q.set(NUMBER_SPECS[k].query, fmt(s[k]));
  q.set('chat', s.chatTemplate ? '1' : '0');
  q.set('live', s.live ? '1' : '0');
  q.set('device', s.device);
  // Only a mirror travels in a share link: without it the reader's own Model host applies.
  if (s.host !== DEFAULT_HUB_HOST) q.set('host', s.host);
  if (extra.prompt !== undefined) q.set('prompt', extra.prompt.slice(0, MAX_PROMPT));
  return q.toString();
}

/** Validates a record read back from localStorage (any JSON value; garbage gives nothing). */
export function settingsFromStored(stored: unknown): SettingsInput {
  if (!stored || typeof stored !== 'object') return { settings: {}, messages: [] };
  const rec = stored as Record<string, unknown>;
  const s = (rec.settings && typeof rec.settings === 'object' ? rec.settings : {}) as Record<string, unknown>;
  return readRecord((k) => (k in s ? s[k] : k === 'prompt' || k === 'model' || k === 'variants' ? rec[k] : undefined));
}

/** The settings the page starts with, and every message about values that had to change. */
export interface MergedSettings {
  settings: Settings;
  prompt: string;
  model?: string;
  variants?: string[];
  messages: string[];
}

/** Defaults, then stored values, then the URL's: later sources win key by key. */
export function mergeSettings(...inputs: SettingsInput[]): MergedSettings {
  const out: MergedSettings = { settings: { ...DEFAULT_SETTINGS }, prompt: DEFAULT_PROMPT, messages: [] };
  for (const i of inputs) {
    Object.assign(out.settings, i.settings);
    if (i.prompt !== undefined) out.prompt = i.prompt;
    if (i.model !== undefined) out.model = i.model;
    if (i.variants !== undefined) out.variants = i.variants;
    out.messages.push(...i.messages);
  }
  return out;
}

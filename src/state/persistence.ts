// Keeps the playground across reloads and in its URL: one localStorage record (settings, prompt,
// model, variants, the last results) and a query string mirrored with history.replaceState, so
// the address bar is always a share link. Reading back goes through src/lib/page/settings.ts checks.

import {
  settingsFromQuery,
  settingsFromStored,
  settingsToQuery,
  type Settings,
  type SettingsInput,
} from '../lib/page/settings';
import type { GenerateParams } from '../lib/runner/types';
import type { ColumnResult } from './column.svelte.ts';

const KEY = 'quantlab:playground:v1';

export interface StoredPlayground {
  version: 1;
  settings: Settings;
  prompt: string;
  model: string;
  variants: string[];
  /** The last finished columns of `model`, by variant stem. */
  results: Record<string, ColumnResult>;
  /** The prompt and settings `results` came from: shown again only under the same ones. */
  resultsFor?: GenerateParams;
  /** A generation that had not ended when the record was written (a reload interrupts it). */
  running?: GenerateParams;
  /** Each model's chosen precisions, by model key (switching back brings them back). */
  choices?: Record<string, string[]>;
}

function readRecord(): unknown {
  try {
    const raw = localStorage.getItem(KEY);
    return raw ? JSON.parse(raw) : undefined;
  } catch {
    return undefined;
  }
}

/** Stored and URL inputs, in the order they apply (the URL wins). */
export function readInputs(search: string): {
  stored: SettingsInput;
  url: SettingsInput;
  results: Record<string, ColumnResult>;
  resultsModel?: string;
  resultsFor?: GenerateParams;
  running?: GenerateParams;
  choices: Record<string, string[]>;
} {
  const rec = readRecord();
  const stored = settingsFromStored(rec);
  const r = rec && typeof rec === 'object' ? (rec as Partial<StoredPlayground>) : {};
  const results = r.results && typeof r.results === 'object' ? validResults(r.results) : {};
  return {
    stored,
    url: settingsFromQuery(search),
    results,
    resultsModel: typeof r.model === 'string' ? r.model : undefined,
    resultsFor: validParams(r.resultsFor),
    running: validParams(r.running),
    choices: validChoices(r.choices),
  };
}

const PARAM_NUMBERS = ['maxNewTokens', 'temperature', 'topK', 'topP', 'repetitionPenalty', 'seed'] as const;

function validParams(raw: unknown): GenerateParams | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const p = raw as Partial<GenerateParams>;
  if (typeof p.prompt !== 'string' || PARAM_NUMBERS.some((k) => typeof p[k] !== 'number')) return undefined;
  return { ...(p as GenerateParams), chatTemplate: p.chatTemplate === true };
}

/** Same prompt and the same sampling settings: a result of one is a result of the other. */
export function sameParams(a: GenerateParams, b: GenerateParams): boolean {
  return (
    a.prompt === b.prompt &&
    (a.chatTemplate === true) === (b.chatTemplate === true) &&
    PARAM_NUMBERS.every((k) => a[k] === b[k])
  );
}

function validChoices(raw: unknown): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (!raw || typeof raw !== 'object') return out;
  for (const [key, v] of Object.entries(raw))
    if (Array.isArray(v) && v.every((s) => typeof s === 'string')) out[key] = v as string[];
  return out;
}

function validResults(raw: object): Record<string, ColumnResult> {
  const out: Record<string, ColumnResult> = {};
  for (const [stem, v] of Object.entries(raw)) {
    const r = v as Partial<ColumnResult>;
    if (typeof r?.text !== 'string' || !Array.isArray(r.ids) || !r.ids.every((x) => Number.isInteger(x))) continue;
    out[stem] = {
      text: r.text,
      ids: r.ids,
      offsets: Array.isArray(r.offsets) ? r.offsets.map((o) => (typeof o === 'number' ? o : null)) : [],
      timings: r.timings && typeof r.timings === 'object' && Array.isArray(r.timings.tokenMs) ? r.timings : null,
      device: r.device && typeof r.device === 'object' && typeof r.device.reason === 'string' ? r.device : null,
      bytes: typeof r.bytes === 'number' ? r.bytes : undefined,
    };
  }
  return out;
}

/** Saves the record; a full or blocked storage only loses persistence, never the page. */
export function save(rec: StoredPlayground): void {
  try {
    localStorage.setItem(KEY, JSON.stringify(rec));
  } catch {
    // quota exceeded or storage disabled: keep working without it
  }
}

/** Mirrors the settings into the address bar without a navigation or a history entry. */
export function mirrorUrl(rec: StoredPlayground): string {
  const query = settingsToQuery(rec.settings, { prompt: rec.prompt, model: rec.model, variants: rec.variants });
  const url = `${location.pathname}?${query}${location.hash}`;
  try {
    history.replaceState(history.state, '', url);
  } catch {
    // some embedded contexts forbid replaceState
  }
  return new URL(url, location.href).href;
}

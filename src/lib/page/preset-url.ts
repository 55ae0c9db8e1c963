// A guided experiment as a share link: ?preset=<id> (with preset_runs and preset_tokens for a
// sweep's size) runs that preset when the page opens. Read back with the same care as the
// playground's settings: an unknown id or an out-of-range size is named in a message, never run silently.

import { PRESET_IDS, type PresetId } from '../presets/definitions';
import { clampSize, SIZE_RANGES, type PresetSize } from '../presets/plan';

export const PRESET_QUERY = { id: 'preset', runs: 'preset_runs', tokens: 'preset_tokens' } as const;

export interface PresetRequest {
  id: PresetId;
  /** Only what the link says; absent values take the panel's. */
  size: Partial<PresetSize>;
}

/** The preset a link asks to run, if any, and a message for every value that had to be changed or ignored. */
export function presetFromQuery(search: string): { request?: PresetRequest; messages: string[] } {
  const q = new URLSearchParams(search);
  const raw = q.get(PRESET_QUERY.id);
  const messages: string[] = [];
  if (raw === null) return { messages };
  const id = raw.trim();
  if (!(PRESET_IDS as readonly string[]).includes(id)) {
    messages.push(`Guided experiment "${id}" is not one of ${PRESET_IDS.join(', ')}; nothing was run.`);
    return { messages };
  }
  const size: Partial<PresetSize> = {};
  for (const key of ['runs', 'tokens'] as const) {
    const text = q.get(PRESET_QUERY[key]);
    if (text === null) continue;
    const r = SIZE_RANGES[key];
    const n = text.trim() === '' ? NaN : Number(text);
    const v = clampSize({ [key]: n })[key];
    if (!Number.isFinite(n)) messages.push(`${r.label}: "${text}" is not a number; using ${r.default}.`);
    else if (v !== n) messages.push(`${r.label}: ${text} is outside ${r.min} to ${r.max} (or not whole); using ${v}.`);
    size[key] = v;
  }
  return { request: { id: id as PresetId, size }, messages };
}

/** `url` with the preset's parameters set (and any earlier ones replaced); the size only for a sweep preset. */
export function presetUrl(url: string, id: PresetId, size?: PresetSize): string {
  const u = new URL(url);
  for (const k of Object.values(PRESET_QUERY)) u.searchParams.delete(k);
  u.searchParams.set(PRESET_QUERY.id, id);
  if (size) {
    u.searchParams.set(PRESET_QUERY.runs, String(size.runs));
    u.searchParams.set(PRESET_QUERY.tokens, String(size.tokens));
  }
  return u.href;
}

// The page's numeric fields as plain data: the attributes that mark one (so a test can find every
// numeric field of the page and check it against its declared range), what a field's check
// returns, and the drafts record (text typed into a field but not applied yet, kept across reloads).

/** A field's check of its text: the value to apply (absent: refused) and the message shown at the field. */
export interface FieldCheck {
  value?: number;
  message?: string;
}

/** How a numeric field declares itself: one number or a comma-separated list, its range, and what else it takes. */
export interface NumericMarker {
  min: number;
  max: number;
  integer: boolean;
  /** 'list': comma-separated numbers. */
  kind?: 'number' | 'list';
  /** An empty field is accepted (it means automatic, or nothing yet). */
  blank?: boolean;
  /** Words accepted in place of a number (the lab's "off" for top-k). */
  words?: readonly string[];
}

/** The data-* attributes that mark a numeric field (spread onto its <input>). */
export function numericAttrs(m: NumericMarker): Record<string, string | undefined> {
  return {
    'data-numeric': m.kind ?? 'number',
    'data-min': String(m.min),
    'data-max': String(m.max),
    'data-integer': m.integer ? '' : undefined,
    'data-blank': m.blank ? '' : undefined,
    'data-words': m.words?.length ? m.words.join(' ') : undefined,
  };
}

/** A field's kept text: typed and not applied yet, or (`applied`) the last value applied, for fields nothing else stores. */
export interface Draft {
  text: string;
  applied?: boolean;
}

/** Longer drafts are not kept (a field's checks refuse far shorter text; storage is small). */
export const MAX_DRAFT_CHARS = 20_000;

/** The drafts record read back from storage (any JSON value): each entry of the right shape, nothing else. */
export function parseDrafts(raw: unknown): Record<string, Draft> {
  const out: Record<string, Draft> = {};
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return out;
  for (const [id, v] of Object.entries(raw as Record<string, unknown>)) {
    if (!v || typeof v !== 'object') continue;
    const d = v as Partial<Draft>;
    if (typeof d.text !== 'string' || d.text.length > MAX_DRAFT_CHARS) continue;
    out[id] = d.applied === true ? { text: d.text, applied: true } : { text: d.text };
  }
  return out;
}

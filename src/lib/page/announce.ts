// What the page's live region says about the columns: one sentence grouping them by status, which
// changes only when a status does (not on every streamed token), so a screen reader hears each
// load, start, end and failure once.

/** A column as the announcement sees it. */
export interface AnnouncedColumn {
  label: string;
  status: 'idle' | 'loading' | 'ready' | 'generating' | 'done' | 'error' | 'over-budget';
  tokens: number;
}

const WORDS: Record<AnnouncedColumn['status'], string> = {
  idle: 'not loaded',
  loading: 'loading',
  ready: 'loaded',
  generating: 'generating',
  done: 'done',
  error: 'failed',
  'over-budget': 'over the memory budget',
};

const ORDER: AnnouncedColumn['status'][] = ['error', 'over-budget', 'loading', 'generating', 'done', 'ready', 'idle'];

/** "a", "a and b", "a, b and c". */
export function listWords(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

/** "q4 failed. fp32 and q8 generating." ("" with no columns, or when every column is idle). */
export function columnsAnnouncement(columns: readonly AnnouncedColumn[]): string {
  if (columns.every((c) => c.status === 'idle')) return '';
  const parts: string[] = [];
  for (const s of ORDER) {
    const these = columns.filter((c) => c.status === s);
    if (these.length === 0 || s === 'idle') continue;
    const names = these.map((c) => (s === 'done' ? `${c.label} (${c.tokens} tokens)` : c.label));
    parts.push(`${listWords(names)} ${WORDS[s]}.`);
  }
  return parts.join(' ');
}

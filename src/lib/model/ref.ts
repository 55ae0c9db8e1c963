// Where a model comes from, as one serialisable value every worker, the catalog and the URL share.

/**
 * hub: Hugging Face Hub id, with the Model host to fetch it from (absent: the Hub itself; not part
 * of refKey). served: a folder under the app's models/ (built-in). local: imported by the user,
 * kept in the browser (OPFS).
 */
export type ModelRef =
  { kind: 'hub'; id: string; host?: string } | { kind: 'served'; id: string } | { kind: 'local'; id: string };

/** Prefix of the transformers.js model id of user models, served from OPFS by our cache. */
export const LOCAL_PREFIX = 'quantlab-local';

/** The id transformers.js's from_pretrained receives for a ref. */
export function transformersModelId(ref: ModelRef): string {
  return ref.kind === 'local' ? `${LOCAL_PREFIX}/${ref.id}` : ref.id;
}

export function refKey(ref: ModelRef): string {
  return `${ref.kind}:${ref.id}`;
}

/** A safe folder name for a user model (letters, digits, . _ -). */
export function slugify(name: string): string {
  const s = name
    .replace(/\.[^.]*$/, '')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64);
  return s || 'model';
}

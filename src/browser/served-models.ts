// A built-in model's variants as this site serves them: models/index.json (written by
// `npm run models`) lists each served model's files, and its quantlab manifest labels them. A
// missing or broken index is an explanation to show, never a thrown error.

import { SERVED_INDEX_PATH, type ServedIndex } from '../lib/catalog';
import { variantsFromFiles } from '../lib/variants/info';
import { MANIFEST_PATH } from '../lib/variants/manifest';
import type { VariantInfo } from '../lib/variants/table';

/** One served model's variants, or why they are unknown. */
export interface ServedModels {
  variants?: VariantInfo[];
  error?: string;
}

/**
 * Reads the index and the manifest of served model `id` under `base` (the page's document.baseURI).
 * `manifestAtOnce`: asks for the manifest together with the index, not once the index lists it (one
 * round trip instead of two; the built-in model has one), and uses it only if the index lists it.
 */
export async function fetchServedModels(
  base: string,
  id: string,
  fetchFn: typeof fetch = fetch,
  { manifestAtOnce = false }: { manifestAtOnce?: boolean } = {},
): Promise<ServedModels> {
  const readManifest = () =>
    fetchFn(new URL(`models/${id}/${MANIFEST_PATH}`, base)).then(
      (r) => (r.ok ? (r.json() as Promise<unknown>) : undefined),
      () => undefined,
    );
  const early = manifestAtOnce ? readManifest() : undefined;
  try {
    const res = await fetchFn(new URL(SERVED_INDEX_PATH, base));
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const index = (await res.json()) as ServedIndex;
    const entry = index.models.find((m) => m.id === id);
    if (!entry) throw new Error(`${id} is not listed`);
    const manifest = entry.files.some((f) => f.path === MANIFEST_PATH) ? await (early ?? readManifest()) : undefined;
    return { variants: variantsFromFiles(entry.files, manifest) };
  } catch (err) {
    return {
      error: `The built-in model ${id} is missing from this site (${(err as Error).message}). Build it with \`npm run models\` (npm run dev and npm run build do it).`,
    };
  }
}

/**
 * `read`, except that the page's first read, if it is of `first.id`, is `first.read` (begun earlier,
 * as the page started: prestart.ts); any later read, a Retry after a failure included, calls `read`.
 */
export function withEarlyRead(
  first: { id: string; read: Promise<ServedModels> },
  read: (id: string) => Promise<ServedModels>,
): (id: string) => Promise<ServedModels> {
  let early: typeof first | undefined = first;
  return (id) => {
    const taken = early?.id === id ? early.read : undefined;
    early = undefined;
    return taken ?? read(id);
  };
}

// The Hub repositories opened by id in this page session: each becomes a model entry beside the
// catalog's suggestions, with the precisions its host listed. The last good listing of each
// (host, id) is kept in localStorage, so a reload with the host unreachable still offers the
// repository (its files may be in the browser's cache) and says the listing is a saved one.

import { listHubRepo, type HubListing, type HubListingResult } from '../browser/hub-repo';
import type { CatalogModel } from '../lib/catalog';
import { parseRepoId } from '../lib/hub/repo-id';
import { defaultHubVariants } from '../lib/hub/listing';
import type { HubProblem } from '../lib/hub/problems';
import { refKey, type ModelRef } from '../lib/model/ref';

const KEY = 'quantlab:hub-listings:v1';
/** Listings kept for an unreachable host: the most recently listed repositories. */
const SAVED_MAX = 20;

export type HubStatus =
  | { state: 'idle' }
  | { state: 'listing'; id: string; host: string }
  | { state: 'ok'; id: string; host: string; text: string }
  | { state: 'error'; id?: string; host: string; problem: HubProblem };

interface SavedListing extends HubListing {
  listedAt: string;
}

/** Instruct-tuned by its name: only the chat toggle's first position depends on it. */
const INSTRUCT_NAME = /instruct|chat|-it\b/i;

function entryOf(l: HubListing, saved?: string): CatalogModel {
  const ref: ModelRef = { kind: 'hub', id: l.id };
  const n = l.variants.length;
  return {
    key: refKey(ref),
    ref,
    name: l.id,
    description: `Opened by id from ${l.host}: a ${l.modelType} model with ${n} precision${n === 1 ? '' : 's'}${
      saved ? ` (listing saved ${saved})` : ''
    }.`,
    instruct: INSTRUCT_NAME.test(l.id),
    variants: l.variants,
    defaultVariants: defaultHubVariants(l.variants),
  };
}

export class HubRepos {
  /** Repositories opened by id, most recent first. */
  opened = $state.raw<CatalogModel[]>([]);
  status = $state.raw<HubStatus>({ state: 'idle' });
  /** open() calls so far: tells one answer from the next when both read the same. */
  attempts = $state(0);

  constructor(
    private readonly list: (host: string, id: string) => Promise<HubListingResult> = listHubRepo,
    private readonly storage: () => Storage | undefined = () => globalThis.localStorage,
  ) {}

  /**
   * Lists `text` (owner/name, a Hub address or hub:owner/name) on `host`; on success the
   * repository becomes a model entry and is returned. Failures are shown in `status`.
   */
  async open(text: string, host: string): Promise<CatalogModel | null> {
    this.attempts++;
    const parsed = parseRepoId(text);
    if ('problem' in parsed) {
      this.status = {
        state: 'error',
        host,
        problem: { kind: 'malformed-id', message: parsed.problem, detail: parsed.detail },
      };
      return null;
    }
    const { id } = parsed;
    this.status = { state: 'listing', id, host };
    const result = await this.list(host, id);
    if (this.status.state !== 'listing' || this.status.id !== id) return null; // a newer open() took over
    let listing: HubListing;
    let saved: string | undefined;
    if ('problem' in result) {
      const kept = result.problem.kind === 'unreachable' ? this.#saved()[`${host} ${id}`] : undefined;
      if (!kept) {
        this.status = { state: 'error', id, host, problem: result.problem };
        return null;
      }
      listing = kept;
      saved = new Date(kept.listedAt).toLocaleString();
      this.status = {
        state: 'ok',
        id,
        host,
        text: `${result.problem.message}. Showing ${id} from the listing saved ${saved}; precisions already in this browser's cache still load.`,
      };
    } else {
      listing = result.listing;
      this.#save(listing);
      this.status = { state: 'ok', id, host, text: `${id}: ${listing.variants.length} precisions listed by ${host}.` };
    }
    const entry = entryOf(listing, saved);
    this.opened = [entry, ...this.opened.filter((m) => m.key !== entry.key)];
    return entry;
  }

  #saved(): Record<string, SavedListing> {
    try {
      const raw = this.storage()?.getItem(KEY);
      const rec = raw ? (JSON.parse(raw) as unknown) : undefined;
      if (!rec || typeof rec !== 'object') return {};
      const ok = (l: Partial<SavedListing>) =>
        typeof l?.id === 'string' &&
        typeof l.host === 'string' &&
        typeof l.modelType === 'string' &&
        typeof l.listedAt === 'string' &&
        Array.isArray(l.variants) &&
        l.variants.every((v) => typeof v?.stem === 'string' && typeof v.label === 'string');
      return Object.fromEntries(Object.entries(rec).filter(([, l]) => ok(l as Partial<SavedListing>)));
    } catch {
      return {};
    }
  }

  #save(l: HubListing): void {
    try {
      const key = `${l.host} ${l.id}`;
      const others = Object.entries(this.#saved()).filter(([k]) => k !== key);
      // The newest SAVED_MAX listings are kept (objects keep insertion order).
      const kept = [...others.slice(-(SAVED_MAX - 1)), [key, { ...l, listedAt: new Date().toISOString() }]];
      this.storage()?.setItem(KEY, JSON.stringify(Object.fromEntries(kept)));
    } catch {
      // full or blocked storage: the listing is only not remembered
    }
  }
}

// The Storage panel's state: the Hub files kept in the browser cache (grouped by repository, with
// sizes), the origin's quota and usage, and deleting one repository's files or all of them. A
// deleted file is downloaded again by the next load that needs it.

import { clearHubCache, deleteHubFiles, listHubCache, storageEstimate } from '../browser/hub-cache';
import { groupCacheEntries, type CacheEntry, type CachedModel } from '../lib/download/cache-entries';

/** Where the state reads and deletes (the browser's Cache Storage and StorageManager; fakes in tests). */
export interface StorageIo {
  list(): Promise<CacheEntry[]>;
  deleteFiles(urls: readonly string[]): Promise<void>;
  clear(): Promise<void>;
  estimate(): Promise<{ usage?: number; quota?: number }>;
}

const browserIo: StorageIo = {
  list: listHubCache,
  deleteFiles: deleteHubFiles,
  clear: clearHubCache,
  estimate: storageEstimate,
};

export class StorageState {
  /** Cached Hub files by repository, largest first. */
  hub = $state.raw<CachedModel[]>([]);
  usage = $state<number | undefined>(undefined);
  quota = $state<number | undefined>(undefined);
  /** Listed at least once. */
  listed = $state(false);
  busy = $state(false);
  error = $state<string | null>(null);

  constructor(private readonly io: StorageIo = browserIo) {}

  /** Lists the cache and reads the quota again. */
  async refresh(): Promise<void> {
    await this.#run(async () => {
      const [entries, est] = await Promise.all([this.io.list(), this.io.estimate()]);
      this.hub = groupCacheEntries(entries);
      this.usage = est.usage;
      this.quota = est.quota;
      this.listed = true;
    });
  }

  /** Deletes every cached file of one repository (CachedModel.key). */
  async removeModel(key: string): Promise<void> {
    const group = this.hub.find((g) => g.key === key);
    if (!group) return;
    await this.#run(() => this.io.deleteFiles(group.files.map((f) => f.url)));
    await this.refresh();
  }

  /** Deletes the whole Hub cache. */
  async removeAll(): Promise<void> {
    await this.#run(() => this.io.clear());
    await this.refresh();
  }

  async #run(fn: () => Promise<void>): Promise<void> {
    this.busy = true;
    this.error = null;
    try {
      await fn();
    } catch (err) {
      this.error = `Could not read or change the browser's storage: ${err instanceof Error ? err.message : String(err)}. Reload the page and try again.`;
    } finally {
      this.busy = false;
    }
  }
}

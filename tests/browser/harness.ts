// Browser-test harness: the site build, static server and Chromium launcher live in
// src/node/browser.ts (the benchmark uses them too); the tests import them from here. Each test
// file starts its own server and browser in beforeAll and closes them when its tests are done:
// `openSite` for the common case (the built site, one Chromium), the parts spelled out where a file
// serves something else (several roots, a Hub mirror) or runs no page.
import { inject } from 'vitest';
import {
  launchChromium,
  serveStatic,
  type BrowserSession,
  type ServeOptions,
  type StaticServer,
} from '../../src/node/browser';

export {
  buildSite,
  CHROMIUM_PATH,
  DEFAULT_SITE_DIR,
  ensureSite,
  launchChromium,
  REPO_ROOT,
  serveStatic,
  type BrowserSession,
  type ServeOptions,
  type StaticServer,
} from '../../src/node/browser';

/** The built site served and one Chromium on it, with `close` for beforeAll to return as its teardown. */
export interface Site {
  server: StaticServer;
  browser: BrowserSession;
  /** The browser's first page (not navigated yet). */
  page: BrowserSession['page'];
  close(): Promise<void>;
}

/** Serves the built site (`inject('siteDir')`, with `serve`'s options) and launches Chromium. Use as
 *  `beforeAll(async () => { const site = await openSite(); …; return site.close; })`. */
export async function openSite(serve: ServeOptions = {}): Promise<Site> {
  const server = await serveStatic(inject('siteDir'), serve);
  const browser = await launchChromium().catch(async (e: unknown) => {
    await server.close();
    throw e;
  });
  return {
    server,
    browser,
    page: browser.page,
    close: async () => {
      await browser.close();
      await server.close();
    },
  };
}

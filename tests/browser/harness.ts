// Browser-test harness: the site build, static server and Chromium launcher live in
// src/node/browser.ts (the benchmark uses them too); the tests import them from here.
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

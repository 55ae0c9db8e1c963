// Browser-test harness: the site build, static server and Chromium launcher live in
// src/node/browser.ts (the benchmark uses them too); the tests import them from here. Each test
// file starts its own servers and browser in beforeAll and closes them in afterAll, spelled out:
// files differ in what they serve (isolation headers, several roots) and what they attach (CDP).
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

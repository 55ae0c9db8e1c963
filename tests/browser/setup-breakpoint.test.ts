// Crossing the 1000 px breakpoint re-creates the Setup panel (a side bar on wide screens, a fold
// above the prompt under 1000 px): text typed into its fields and not applied must come through
// both crossings, still not applied and still marked as drafts.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSite, type Site } from './harness';
import { gotoReady } from './columns';

/** Types as input events do, without Enter or leaving the field (either would apply the text). */
async function typeWithoutLeaving(page: Page, selector: string, text: string): Promise<void> {
  await page.locator(selector).evaluate((el, text) => {
    (el as HTMLInputElement).value = text;
    el.dispatchEvent(new Event('input', { bubbles: true }));
  }, text);
}

async function openSetup(page: Page): Promise<void> {
  if (!(await page.locator('#setup').evaluate((d) => (d as HTMLDetailsElement).open)))
    await page.locator('#setup > summary').click();
}

/** Where the Setup panel is drawn: beside the columns (wide) or above the prompt (narrow). */
const setupBeforePrompt = (page: Page) =>
  page.evaluate(() => {
    const setup = document.querySelector('#setup')!;
    const prompt = document.querySelector('#prompt')!;
    return Boolean(setup.compareDocumentPosition(prompt) & Node.DOCUMENT_POSITION_FOLLOWING);
  });

describe('Setup panel across the 1000 px breakpoint', () => {
  let site: Site;
  beforeAll(async () => {
    site = await openSite();
  });
  afterAll(() => site?.close());

  it('keeps drafts typed in its fields through 1400 -> 800 -> 1400 px', async () => {
    const page = site.page;
    await page.setViewportSize({ width: 1400, height: 1000 });
    await gotoReady(page, `${site.server.url}?device=wasm`);
    await page.evaluate(() => localStorage.removeItem('quantlab:drafts:v1'));
    await gotoReady(page, `${site.server.url}?device=wasm`);
    await openSetup(page);
    expect(await setupBeforePrompt(page)).toBe(false);
    const before = await page.evaluate(() => ({
      seed: window.quantlab!.playground.settings.seed,
      budget: window.quantlab!.playground.settings.memoryBudgetMb,
      host: window.quantlab!.playground.settings.host,
    }));
    const typed: [string, string][] = [
      ['#seed', before.seed === 4321 ? '1234' : '4321'],
      ['#memory-budget', before.budget === 3072 ? '2048' : '3072'],
      ['#model-host', 'mirror.example.org'],
      ['#hub-model', 'owner/typed-not-opened'],
    ];
    for (const [sel, text] of typed) await typeWithoutLeaving(page, sel, text);
    // The focus stays in a numeric field while the panel is re-created: leaving it would apply it.
    await page.locator('#seed').focus();

    for (const width of [800, 1400]) {
      await page.setViewportSize({ width, height: 1000 });
      await expect.poll(() => setupBeforePrompt(page)).toBe(width < 1000);
      await openSetup(page);
      const back = await Promise.all(typed.map(([sel]) => page.locator(sel).inputValue()));
      expect(Object.fromEntries(typed.map(([sel], i) => [sel, back[i]])), `at ${width} px`).toEqual(
        Object.fromEntries(typed),
      );
      // Not applied, and the fields say so (as after a reload: fields.test), naming no reload only.
      const now = await page.evaluate(() => ({
        seed: window.quantlab!.playground.settings.seed,
        budget: window.quantlab!.playground.settings.memoryBudgetMb,
        host: window.quantlab!.playground.settings.host,
      }));
      expect(now, `at ${width} px`).toEqual(before);
      for (const id of ['seed', 'memory-budget'])
        expect(await page.locator(`#${id}-message`).textContent(), `${id} at ${width} px`).toMatch(
          /panel was redrawn\), not applied yet/,
        );
      expect(await page.locator('#model-host-status').textContent(), `at ${width} px`).toMatch(
        /panel was redrawn\), not set yet/,
      );
    }
    expect(site.browser.errors).toEqual([]);
  });
});

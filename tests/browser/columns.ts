// Reading the playground's columns from a test: each is an <article class="column"> with its
// variant, status, generation counter, token count and output text as attributes/elements.
import type { Page } from 'playwright-core';
import { expect } from 'vitest';
import { CHECKPOINT, TOKENIZER } from '../helpers/aidreams';

export const column = (page: Page, stem: string) => page.locator(`article.column[data-variant="${stem}"]`);

/** Waits until a column has settled (done or error) on a generation newer than `after`; returns its status. */
export async function waitSettled(page: Page, stem: string, after: number, timeout = 60_000): Promise<string> {
  await waitSettledOrSay(page, stem, after, timeout);
  return (await column(page, stem).getAttribute('data-status')) ?? '';
}

/** What every column shows, in one line each: for a wait that timed out to say where each column was. */
async function columnStates(page: Page): Promise<string> {
  return page
    .locator('article.column')
    .evaluateAll((els) =>
      els
        .map(
          (e) =>
            `${e.getAttribute('data-variant')}: ${e.getAttribute('data-status')}, generation ${e.getAttribute('data-generation')}, ${e.getAttribute('data-tokens')} tokens, loads ${e.getAttribute('data-loads')}; ${(e.querySelector('.state')?.textContent ?? '').replace(/\s+/g, ' ').trim()} ${(e.querySelector('.load-overlay')?.textContent ?? '').replace(/\s+/g, ' ').trim()}`,
        )
        .join('\n'),
    )
    .catch((err: unknown) => `(columns not readable: ${String(err)})`);
}

async function waitSettledOrSay(page: Page, stem: string, after: number, timeout: number): Promise<void> {
  try {
    await waitSettledOnly(page, stem, after, timeout);
  } catch (err) {
    throw new Error(
      `${stem} did not settle on a generation after ${after} within ${timeout} ms; the columns:\n${await columnStates(page)}`,
      { cause: err },
    );
  }
}

async function waitSettledOnly(page: Page, stem: string, after: number, timeout: number): Promise<void> {
  await page.waitForFunction(
    ({ stem, after }) => {
      const el = document.querySelector(`article.column[data-variant="${stem}"]`);
      return (
        el &&
        Number(el.getAttribute('data-generation')) > after &&
        ['done', 'error'].includes(el.getAttribute('data-status') ?? '')
      );
    },
    { stem, after },
    // Polled on a timer, not on animation frames: a page whose columns' threads take every core
    // draws few frames, and a frame-driven wait could miss a column that is long done.
    { timeout, polling: 100 },
  );
}

/** Like waitSettled, but the generation must have succeeded; returns the generation number. */
export async function waitDone(page: Page, stem: string, after: number, timeout = 60_000): Promise<number> {
  await waitSettled(page, stem, after, timeout);
  const c = column(page, stem);
  expect(await c.getAttribute('data-status'), (await c.locator('.column-error').allTextContents()).join(' ')).toBe(
    'done',
  );
  return Number(await c.getAttribute('data-generation'));
}

export async function outputOf(page: Page, stem: string): Promise<string> {
  return (await column(page, stem).locator('.output').textContent()) ?? '';
}

/**
 * `url` with Generate on opening turned off (autorun=0) unless it says otherwise: these tests start
 * every run themselves. (The setting is stored, so a reload keeps it.)
 */
export function noAutorun(url: string): string {
  const u = new URL(url);
  if (!u.searchParams.has('autorun')) u.searchParams.set('autorun', '0');
  return u.href;
}

/** Opens `url` (without Generate on opening, unless it asks for it) and waits until the page has checked its environment (#env ready). */
export async function gotoReady(page: Page, url: string): Promise<void> {
  await page.goto(noAutorun(url));
  await page.locator('#env[data-ready="true"]').waitFor();
}

/**
 * Opens `url` as it is and waits for the page-level ready flag (html[data-ready]), which the page
 * sets once its start-up model is selected (and its first run started, when it generates on opening).
 */
export async function gotoPageReady(page: Page, url: string, timeout = 60_000): Promise<void> {
  await page.goto(url);
  await page.locator('html[data-ready="true"]').waitFor({ state: 'attached', timeout });
}

/** Opens model files through the page's file input and waits until the import ends (either way). */
export async function openFiles(page: Page, files: string[]): Promise<void> {
  await page.setInputFiles('#open-files', files);
  await page
    .locator('#import-status')
    .filter({ hasText: /Imported|Error/ })
    .waitFor({ timeout: 120_000 });
}

/** Presses Load and waits until every column in `stems` is loaded (status 'ready'). */
export async function loadColumns(page: Page, stems: readonly string[], timeout = 120_000): Promise<void> {
  for (const stem of stems) await column(page, stem).waitFor();
  await page.locator('#load').click();
  for (const stem of stems) await waitReady(page, stem, timeout);
}

/** Waits until one column is loaded (status 'ready'). */
export async function waitReady(page: Page, stem: string, timeout = 120_000): Promise<void> {
  await page.waitForFunction(
    (s) => document.querySelector(`article.column[data-variant="${s}"]`)?.getAttribute('data-status') === 'ready',
    stem,
    { timeout, polling: 100 },
  );
}

/** Opens the site on WASM and imports aidreams260K (../shared) through the file input, as a person
 *  would; resolves once the import succeeded and its model is the one selected. */
export async function importAidreams(page: Page, siteUrl: string): Promise<void> {
  await gotoReady(page, `${siteUrl}?device=wasm`);
  await openFiles(page, [CHECKPOINT, TOKENIZER]);
  expect(await page.locator('#import-status').textContent()).toMatch(/Imported/);
  // (Also called from beforeAll, where expect.poll is not allowed: wait in the page instead.)
  await page.waitForFunction(
    () => document.querySelector<HTMLSelectElement>('#model')?.value === 'local:aidreams260K',
    undefined,
    { timeout: 60_000 },
  );
}

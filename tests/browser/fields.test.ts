// Every numeric field of the page, found by what marks one (type=number, inputmode numeric or
// decimal, data-numeric), answers random text with a message at the field (aria-invalid and
// aria-describedby naming it) or a value inside the range the field declares, at the keystroke and
// again once committed; a field that changes what was typed says so. And nothing typed is lost on
// reload: drafts come back to their fields, still not applied.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../helpers/prng';
import { openSite, type Site } from './harness';
import { gotoReady, importAidreams } from './columns';

/** What marks a numeric field: any of these, and the test then requires data-numeric with its range. */
const NUMERIC = 'input[type=number], input[inputmode=numeric], input[inputmode=decimal], input[data-numeric]';

/** Fields the page has today (so a marker lost, or a dialog not opened, fails instead of shrinking the test). */
const KNOWN = [
  '#seed',
  '#memory-budget',
  '#bandwidth',
  '#preset-runs',
  '#preset-tokens',
  '#calib-tokens',
  '#calib-window',
  '#quantize-budget',
  '#lab-temperatures',
  '#lab-topks',
  '#lab-topps',
  '#lab-max-new',
  '#lab-seeds',
  '#lab-ctx',
  'input[aria-label="Temperature (exact value)"]',
  'input[aria-label="Top-k (exact value)"]',
  'input[aria-label="Top-p (exact value)"]',
  'input[aria-label="Max new tokens (exact value)"]',
  'input[aria-label="Repetition penalty (exact value)"]',
];

const CASES_PER_FIELD = 16;

interface Marker {
  name: string;
  kind: string | null;
  min: number;
  max: number;
  integer: boolean;
  blank: boolean;
  words: string[];
}

/** The field's state as a reader gets it: refused or not, and the message its aria-describedby names. */
interface FieldState {
  value: string;
  invalid: boolean;
  message: string;
}

interface CaseResult {
  /** What the field held once typed (a number input drops text that is not a number). */
  typed: string;
  afterInput: FieldState;
  afterCommit: FieldState;
}

/** An independent reading of the field's declared rule: does `text` give a usable value? */
function accepts(m: Marker, text: string): boolean {
  if (text.trim() === '') return m.blank;
  const parts = m.kind === 'list' ? text.split(',') : [text];
  return parts.every((raw) => {
    const p = raw.trim();
    if (m.words.includes(p.toLowerCase())) return true;
    const n = Number(p);
    if (p === '' || !Number.isFinite(n)) return false;
    if (m.integer && !Number.isInteger(n)) return false;
    return n >= m.min - 1e-9 && n <= m.max + 1e-9;
  });
}

/** The numbers a text gives, item by item (NaN where none), to tell a kept value from a changed one. */
const numbers = (m: Marker, text: string) =>
  (m.kind === 'list' ? text.split(',') : [text]).map((p) =>
    m.words.includes(p.trim().toLowerCase()) ? p.trim().toLowerCase() : Number(p.trim() === '' ? NaN : p),
  );

/** Random field text: in and out of the declared range, edges, empty, huge, garbage, unicode, lists. */
function fuzzText(rand: () => number, m: Marker): string {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
  const finiteMax = Number.isFinite(m.max) ? m.max : 1e6;
  const num = (): string =>
    pick([
      () => String(m.min),
      () => String(finiteMax),
      () => String(m.min + (finiteMax - m.min) * rand()),
      () => String(Math.round(m.min + (finiteMax - m.min) * rand())),
      () => String(m.min - 1 - Math.floor(rand() * 100)),
      () => String(finiteMax + 1 + Math.floor(rand() * 1e6)),
      () => (rand() * 3).toFixed(2),
      () => pick(['NaN', 'Infinity', '-Infinity', '1e309', '1e9', '0x10', '1_000', '٣', '１', '½', '-0', '']),
    ])();
  const kind = rand();
  if (kind < 0.08) return '';
  if (kind < 0.16) return pick(['🙂', 'ünïcödé', '\u0000\u200b', ' \t ', 'off', 'abc', '"1"', '<b>1</b>', '1,2', '.']);
  if (kind < 0.2) return '9'.repeat(30 + Math.floor(rand() * 3000));
  if (m.kind === 'list' && kind < 0.3) return Array.from({ length: 2 + Math.floor(rand() * 300) }, num).join(',');
  if (m.kind === 'list') return Array.from({ length: 1 + Math.floor(rand() * 3) }, num).join(pick([',', ', ']));
  return num();
}

/** The page's numeric fields, each with a selector that finds it again and its declared rule. */
async function numericFields(page: Page): Promise<{ selector: string; marker: Marker | null }[]> {
  return page.evaluate((sel) => {
    return [...document.querySelectorAll<HTMLInputElement>(sel)].map((el, i) => {
      el.setAttribute('data-field-test', String(i));
      const name = el.id ? `#${el.id}` : `input[aria-label="${el.getAttribute('aria-label')}"]`;
      const marked = el.hasAttribute('data-numeric');
      return {
        selector: `[data-field-test="${i}"]`,
        marker: marked
          ? {
              name,
              kind: el.getAttribute('data-numeric'),
              min: Number(el.getAttribute('data-min')),
              max: Number(el.getAttribute('data-max')),
              integer: el.hasAttribute('data-integer'),
              blank: el.hasAttribute('data-blank'),
              words: (el.getAttribute('data-words') ?? '').split(' ').filter(Boolean),
            }
          : { name, kind: null, min: NaN, max: NaN, integer: false, blank: false, words: [] },
      };
    });
  }, NUMERIC);
}

/** Types `text` into the field (an input event), reads it, commits it (a change event), reads it again. */
async function typeAndCommit(page: Page, selector: string, text: string): Promise<CaseResult> {
  return page.evaluate(
    async ({ selector, text }) => {
      const el = document.querySelector(selector) as HTMLInputElement;
      const frame = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      const read = () => ({
        value: el.value,
        invalid: el.getAttribute('aria-invalid') === 'true',
        // Only the message elements the field names: a hint beside it does not count as a message.
        message: (el.getAttribute('aria-describedby') ?? '')
          .split(/\s+/)
          .filter((id) => id.endsWith('-message'))
          .map((id) => document.getElementById(id)?.textContent?.trim() ?? '')
          .join(' ')
          .trim(),
      });
      el.value = text;
      const typed = el.value;
      el.dispatchEvent(new Event('input', { bubbles: true }));
      await frame();
      const afterInput = read();
      el.dispatchEvent(new Event('change', { bubbles: true }));
      await frame();
      return { typed, afterInput, afterCommit: read() };
    },
    { selector, text },
  );
}

/** Puts `text` in the field as typing does (an input event), without the focus leaving it. */
async function typeWithoutLeaving(page: Page, selector: string, text: string): Promise<void> {
  await page.locator(selector).evaluate((el, text) => {
    (el as HTMLInputElement).value = text;
    el.dispatchEvent(new Event('input', { bubbles: true }));
  }, text);
}

/** Waits until the page is on the model opened from disk. */
async function onLocalModel(page: Page): Promise<void> {
  await page.waitForFunction(
    () => (document.querySelector('#model') as HTMLSelectElement | null)?.value === 'local:aidreams260K',
    undefined,
    { timeout: 60_000, polling: 100 },
  );
}

/** Opens the setup panel and the Quantize dialog with its sensitivity section (the calibration and budget fields). */
async function openEverything(page: Page): Promise<void> {
  if (!(await page.locator('#setup').evaluate((d) => (d as HTMLDetailsElement).open)))
    await page.locator('#setup > summary').click();
  await page.locator('#quantize').click({ timeout: 120_000 });
  const dialog = page.locator('dialog[open]');
  await dialog.locator('#sensitivity-open').click();
  await dialog.locator('#calib-tokens').waitFor();
  await dialog.locator('#quantize-budget').waitFor();
}

describe('numeric fields and drafts', () => {
  let site: Site;
  let page: Page;

  beforeAll(async () => {
    site = await openSite();
    page = site.page;
    // A model from disk: the Quantize dialog (calibration and budget fields) is offered for it.
    await importAidreams(page, site.server.url);
  });

  afterAll(() => site?.close());

  it('answers random text in every numeric field with a message at the field or a value in its range', async () => {
    await openEverything(page);
    const fields = await numericFields(page);
    const names = fields.map((f) => f.marker!.name);
    const unmarked = fields.filter((f) => f.marker!.kind === null).map((f) => f.marker!.name);
    expect(unmarked, 'numeric fields without data-numeric and their range').toEqual([]);
    for (const k of KNOWN) expect(names, `${k} not found among the numeric fields`).toContain(k);

    const rand = mulberry32(14);
    const t0 = performance.now();
    let cases = 0;
    let refused = 0;
    let clamped = 0;
    for (let round = 0; round < CASES_PER_FIELD; round++) {
      for (const f of fields) {
        const m = f.marker!;
        const text = fuzzText(rand, m);
        const r = await typeAndCommit(page, f.selector, text);
        const what = `${m.name} = ${JSON.stringify(text.slice(0, 60))}: ${JSON.stringify(r).slice(0, 400)}`;
        // At the keystroke: text the field cannot use is flagged there, with its message.
        if (!accepts(m, r.typed)) expect(r.afterInput.invalid, `not flagged as typed: ${what}`).toBe(true);
        for (const s of [r.afterInput, r.afterCommit])
          if (s.invalid) expect(s.message, `flagged without a message: ${what}`).not.toBe('');
        // Committed: refused (flagged, with its message) or a usable value; a changed value says why.
        const c = r.afterCommit;
        if (c.invalid) refused++;
        else {
          expect(accepts(m, c.value), `holds an unusable value, unflagged: ${what}`).toBe(true);
          const kept =
            accepts(m, r.typed) && JSON.stringify(numbers(m, r.typed)) === JSON.stringify(numbers(m, c.value));
          if (!kept) {
            expect(c.message, `changed what was typed without a message: ${what}`).not.toBe('');
            clamped++;
          }
        }
        cases++;
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    console.log(
      `[fields] ${fields.length} numeric fields (${names.join(' ')}); ${cases} cases in ${seconds.toFixed(1)} s: ` +
        `${refused} refused at the field, ${clamped} changed with a message, ${cases - refused - clamped} kept as typed`,
    );
    // The fuzz reached both outcomes, and the page threw nothing.
    expect(refused).toBeGreaterThan(0);
    expect(clamped).toBeGreaterThan(0);
    expect(site.browser.errors).toEqual([]);
  });

  it('brings back what was typed and not applied after a reload, still not applied', async () => {
    // A fresh page: the fuzz above left drafts and values all over.
    await page.evaluate(() => localStorage.removeItem('quantlab:drafts:v1'));
    await gotoReady(page, `${site.server.url}?device=wasm`);
    await onLocalModel(page);
    if (!(await page.locator('#setup').evaluate((d) => (d as HTMLDetailsElement).open)))
      await page.locator('#setup > summary').click();
    const before = await page.evaluate(() => ({
      seed: window.quantlab!.playground.settings.seed,
      temperature: window.quantlab!.playground.settings.temperature,
      budget: window.quantlab!.playground.settings.memoryBudgetMb,
      host: window.quantlab!.playground.settings.host,
      runs: window.quantlab!.presets.size.runs,
    }));
    const onPage: [string, string][] = [
      ['#seed', before.seed === 1234 ? '4321' : '1234'],
      ['input[aria-label="Temperature (exact value)"]', before.temperature === 1.3 ? '1.2' : '1.3'],
      ['#memory-budget', before.budget === 2048 ? '4096' : '2048'],
      ['#bandwidth', '55.5'],
      ['#preset-runs', before.runs === 12 ? '13' : '12'],
      ['#model-host', 'mirror.example.org'],
      ['#hub-model', 'owner/typed-not-opened'],
      ['#lab-seeds', '7'],
      ['#lab-ctx', '64'],
      ['#lab-temperatures', '0, 0.3'],
    ];
    const inDialog: [string, string][] = [
      ['#calib-tokens', '300'],
      ['#calib-window', '64'],
      ['#calib-text', 'A calibration text pasted before the reload.'],
      ['#quantize-name', 'model_typed'],
      ['#quantize-budget', '5.5'],
    ];
    // The prompt last, right before the reload: its debounced save (and the address bar, which a
    // share link fills) has not caught up yet; the save when the page goes must win on a reload.
    const prompt: [string, string] = ['#prompt', `A prompt typed just before the reload ${Date.now()}`];
    const typed = [...onPage, ...inDialog, prompt];
    // Typed (input events) and never committed: no Enter, and no leaving the field, which applies
    // it (fill() would move the focus from field to field). The page's fields first: the modal
    // dialog makes the rest of the page inert.
    for (const [sel, text] of onPage) await typeWithoutLeaving(page, sel, text);
    await openEverything(page);
    await page.locator('dialog[open] #calib-source').selectOption('text');
    for (const [sel, text] of inDialog) await typeWithoutLeaving(page, `dialog[open] ${sel}`, text);
    await typeWithoutLeaving(page, prompt[0], prompt[1]);
    await page.reload();
    await page.locator('#env[data-ready="true"]').waitFor();
    await onLocalModel(page);
    await openEverything(page);
    await page.locator('dialog[open] #calib-source').selectOption('text');
    const back = await Promise.all(typed.map(([sel]) => page.locator(sel).inputValue()));
    expect(Object.fromEntries(typed.map(([sel], i) => [sel, back[i]]))).toEqual(Object.fromEntries(typed));

    // Not applied: the settings are what they were, and the fields say the text waits.
    const after = await page.evaluate(() => ({
      seed: window.quantlab!.playground.settings.seed,
      temperature: window.quantlab!.playground.settings.temperature,
      budget: window.quantlab!.playground.settings.memoryBudgetMb,
      host: window.quantlab!.playground.settings.host,
      runs: window.quantlab!.presets.size.runs,
    }));
    expect(after).toEqual(before);
    for (const id of ['seed', 'memory-budget', 'bandwidth', 'preset-runs', 'calib-tokens', 'calib-window'])
      expect(await page.locator(`#${id}-message`).textContent(), id).toMatch(/not applied yet/);
    expect(await page.locator('#model-host-status').textContent()).toMatch(/not set yet/);

    // Leaving the field or Enter applies a restored draft: the number is then the one typed, and its note goes.
    await page.locator('dialog[open] #calib-window').focus();
    await page.locator('dialog[open] #calib-window').blur();
    await expect.poll(() => page.locator('#calib-window-message').count()).toBe(0);
    await page.keyboard.press('Escape');
    await page.locator('dialog[open]').waitFor({ state: 'detached' });
    await page.locator('#seed').press('Enter');
    await expect.poll(() => page.evaluate(() => window.quantlab!.playground.settings.seed)).toBe(Number(onPage[0][1]));
    expect(await page.locator('#seed-message').count()).toBe(0);
    expect(site.browser.errors).toEqual([]);
  });
});

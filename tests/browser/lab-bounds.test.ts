// Bounded, interruptible lab work in the real built page (issue 16, case 1): a greedy sweep of a
// million seeds is refused with its estimate and how to shrink it, a large allowed sweep runs with
// the page answering (a round trip under 200 ms, no main-thread task near a freeze; the 50 ms
// long-task target is printed, not asserted: a timed target flakes on a shared machine) and Cancel
// taking effect within 1 s, and a fuzz of a few hundred random strings through the lab's and the
// playground's numeric fields always ends in a field message or an in-range value.
import type { CDPSession, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { NUMBER_SPECS, type SamplingSettings } from '../../src/lib/page/settings';
import { launchChromium, serveStatic, type BrowserSession, type StaticServer } from './harness';
import { gotoReady, loadColumns } from './columns';
import { lastTrace, mainThreadTasks } from './trace';
import { mulberry32 } from '../helpers/prng';

const STEMS = ['model', 'model_quantized'];
/** The bounds. */
const ROUND_TRIP_MS = 200;
const CANCEL_MS = 1000;
/** Chromium's long task: the target, printed with each run's busiest task (a speed target, not asserted). */
const LONG_TASK_MS = 50;
/** A task this long is a freeze anyone sees: asserted. */
const FREEZE_MS = 200;

/** A page.evaluate round trip in ms, or Infinity when the page does not answer within `limit` ms. */
async function roundTrip(page: Page, limit = 5000): Promise<number> {
  const t0 = performance.now();
  const answered = await Promise.race([
    page.evaluate(() => 1).then(() => true),
    new Promise<false>((resolve) => setTimeout(() => resolve(false), limit)),
  ]);
  return answered ? performance.now() - t0 : Infinity;
}

/** Round trips every `every` ms for `ms` ms (until `until` holds, or one goes unanswered); returns each one's ms. */
async function watch(page: Page, ms: number, until?: () => Promise<boolean>, every = 50): Promise<number[]> {
  const trips: number[] = [];
  const end = performance.now() + ms;
  while (performance.now() < end) {
    trips.push(await roundTrip(page));
    // A page that did not answer will not answer `until` either: stop and let the caller fail.
    if (trips.at(-1) === Infinity || (until && (await until()))) break;
    await new Promise((r) => setTimeout(r, every));
  }
  return trips;
}

/** `p`, or a failure naming `what` after `ms` ms (page.evaluate itself waits forever on a frozen page). */
function within<T>(p: Promise<T>, what: string, ms = 10_000): Promise<T> {
  return Promise.race([
    p,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms)),
  ]);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * The page answered: the median round trip under the 200 ms, and none left unanswered for
 * 5 s (a frozen page never answers). Single trips are wall time on a shared machine, where a busy
 * neighbour can delay any one of them; the load-independent bound is the trace's CPU time per task.
 */
function expectAnswering(trips: number[]): void {
  expect(trips.length).toBeGreaterThan(0);
  expect(Math.max(...trips), 'the page stopped answering').toBeLessThan(Infinity);
  expect(median(trips), `round trips ${trips.map((t) => t.toFixed(0)).join(' ')}`).toBeLessThan(ROUND_TRIP_MS);
}

const running = (page: Page) => page.evaluate(() => window.quantlab!.lab.running);

/** Sets the sweep form's fields (the lab's text inputs). */
async function sweepForm(page: Page, f: Record<string, string>): Promise<void> {
  for (const [id, value] of Object.entries(f)) await page.locator(id).fill(value);
}

/** A random field text: numbers in and out of range, empty, huge, negative, NaN, unicode, long lists. */
function fuzzText(rand: () => number, list: boolean): string {
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  const num = () =>
    pick([
      () => String(Math.floor(rand() * 10)),
      () => (rand() * 3).toFixed(2),
      () => String(-Math.floor(rand() * 1000)),
      () => String(Math.floor(rand() * 1e12)),
      () => pick(['NaN', 'Infinity', '-Infinity', '1e309', '1e9', '99', '0x10', '1_000', '٣', '１', '½', '']),
      () => pick(['0', '1', '0.5', '5', '16', '3']),
    ])();
  const kind = rand();
  if (kind < 0.08) return '';
  if (kind < 0.14) return pick(['🙂', 'ünïcödé', '\u0000\u200b', ' \t ', 'off', 'abc', '"1"', '<b>1</b>']);
  if (kind < 0.2) return '9'.repeat(400 + Math.floor(rand() * 4000));
  if (list && kind < 0.3) return Array.from({ length: 50 + Math.floor(rand() * 5000) }, num).join(',');
  if (list) return Array.from({ length: 1 + Math.floor(rand() * 4) }, num).join(pick([',', ', ', ' ,', ';']));
  return num();
}

const LAB_FIELDS = [
  { id: '#lab-temperatures', list: true },
  { id: '#lab-topks', list: true },
  { id: '#lab-topps', list: true },
  { id: '#lab-max-new', list: true },
  { id: '#lab-seeds', list: false },
  { id: '#lab-ctx', list: false },
] as const;

/** The playground's numeric inputs: the seed field and the exact-value boxes beside the sliders. */
const PG_FIELDS: { key: keyof SamplingSettings; selector: string }[] = [
  { key: 'seed', selector: '#seed' },
  { key: 'maxNewTokens', selector: 'input[aria-label="Max new tokens (exact value)"]' },
  { key: 'temperature', selector: 'input[aria-label="Temperature (exact value)"]' },
  { key: 'topK', selector: 'input[aria-label="Top-k (exact value)"]' },
  { key: 'topP', selector: 'input[aria-label="Top-p (exact value)"]' },
  { key: 'repetitionPenalty', selector: 'input[aria-label="Repetition penalty (exact value)"]' },
];

describe('bounded, interruptible lab work', () => {
  let server: StaticServer;
  let browser: BrowserSession;
  let page: Page;
  let cdp: CDPSession;

  beforeAll(async () => {
    server = await serveStatic(inject('siteDir'));
    browser = await launchChromium();
    page = browser.page;
    cdp = await page.context().newCDPSession(page);
    const q = new URLSearchParams({
      device: 'wasm',
      model: 'served:quantlab-tiny',
      variants: STEMS.join(','),
      live: '0',
    });
    await gotoReady(page, `${server.url}?${q}`);
    await loadColumns(page, STEMS);
  });

  afterAll(async () => {
    // A frozen renderer must not hang the run: the browser process is closed either way.
    await Promise.race([browser?.close(), new Promise((r) => setTimeout(r, 10_000))]);
    await server?.close();
  });

  it('refuses a greedy sweep of 1,000,000 seeds with its estimate and how to shrink it, page answering', async () => {
    await sweepForm(page, {
      '#lab-prompt': 'Once upon a time',
      '#lab-temperatures': '0',
      '#lab-topks': '0',
      '#lab-topps': '1',
      '#lab-max-new': '8',
      '#lab-seeds': '1000000',
    });
    await page.locator('#lab-run-sweep').click();
    const trips = await watch(page, 3000, async () => (await page.locator('#lab-error').count()) > 0);
    expectAnswering(trips);
    const text = (await page.locator('#lab-error').textContent()) ?? '';
    // The estimate (runs and rows), the limit, and what to change.
    expect(text).toMatch(/1,000,000 runs/);
    expect(text).toMatch(/2,000,000 rows/);
    expect(text).toMatch(/limit/i);
    expect(text).toMatch(/Seeds per cell/);
    // The field is named in the form itself.
    expect(await page.locator('#lab-seeds').getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('#lab-seeds-message').textContent()).toMatch(/at most [\d,]+ seeds/i);
    expect(await running(page)).toBeNull();
  });

  it('runs a large allowed sweep with the page answering, no long task, and Cancel within 1 s', async () => {
    // 2 cells x 4000 seeds x 2 precisions = 16,000 rows; the greedy cell is one generation.
    await sweepForm(page, { '#lab-temperatures': '0, 0.8', '#lab-max-new': '4', '#lab-seeds': '4000' });
    expect(await page.locator('#lab-seeds').getAttribute('aria-invalid')).not.toBe('true');
    // The estimate is shown before the run.
    expect(await page.locator('#lab-plan').textContent()).toMatch(/8,000 runs/);
    let trips: number[] = [];
    let cancelMs = Infinity;
    const tasks = await mainThreadTasks(cdp, async () => {
      await page.locator('#lab-run-sweep').click();
      // The lab's workers load, then the greedy cell (one generation, copied to its 4000 seeds) runs.
      const greedyDone = async () => ((await page.evaluate(() => window.quantlab!.lab.progress?.done)) ?? 0) >= 4000;
      trips = await watch(page, 120_000, greedyDone);
      expect(await greedyDone()).toBe(true);
      trips.push(...(await watch(page, 1000)));
      expect(await running(page)).toBe('sweep');
      const t0 = performance.now();
      await page.evaluate(() => (document.querySelector('#lab-cancel') as HTMLButtonElement).click());
      await page.waitForFunction(() => window.quantlab!.lab.running === null, undefined, { timeout: 60_000 });
      cancelMs = performance.now() - t0;
      trips.push(...(await watch(page, 1000)));
    });
    const cpu = tasks.map((t) => t.cpuMs).sort((a, b) => b - a);
    const status = page.locator('#lab-sweep-status');
    const done = Number(await status.getAttribute('data-done'));
    console.log(
      `[lab-bounds] ${done} runs before Cancel; round trips median ${median(trips).toFixed(0)} ms, slowest ${Math.max(...trips).toFixed(0)} ms; Cancel took ${cancelMs.toFixed(0)} ms; ` +
        `busiest main-thread tasks ${cpu
          .slice(0, 5)
          .map((x) => x.toFixed(1))
          .join(' / ')} ms of CPU (long-task target ${LONG_TASK_MS} ms: ${cpu[0] < LONG_TASK_MS ? 'met' : 'MISSED'})`,
    );
    expectAnswering(trips);
    expect(cancelMs).toBeLessThan(CANCEL_MS);
    expect(cpu[0], lastTrace).toBeLessThan(FREEZE_MS);
    expect(await status.getAttribute('data-cancelled')).toBe('true');
    expect(Number(await status.getAttribute('data-rows'))).toBe(2 * done);
    expect(done).toBeLessThan(8000);
  });

  it('answers a few hundred random strings in every numeric field with a message or an in-range value', async () => {
    const rand = mulberry32(16);
    const t0 = performance.now();
    let cases = 0;
    const trips: number[] = [];
    for (let i = 0; i < 200; i++) {
      const f = LAB_FIELDS[i % LAB_FIELDS.length];
      const text = fuzzText(rand, f.list);
      // Typed as a user would (an input event per change), read back in the same round trip.
      const t1 = performance.now();
      const r = await within(
        page.evaluate(
          ({ id, text }) => {
            const el = document.querySelector(id) as HTMLInputElement;
            el.value = text;
            el.dispatchEvent(new Event('input', { bubbles: true }));
            return new Promise<{ invalid: boolean; message: string }>((resolve) =>
              requestAnimationFrame(() =>
                resolve({
                  invalid: el.getAttribute('aria-invalid') === 'true',
                  message: document.querySelector(`${id}-message`)?.textContent ?? '',
                }),
              ),
            );
          },
          { id: f.id, text },
        ),
        f.id,
      );
      trips.push(performance.now() - t1);
      const ok = r.invalid ? r.message.trim().length > 0 : labAccepts(f.id, text);
      expect(ok, `${f.id} = ${JSON.stringify(text.slice(0, 80))}: ${JSON.stringify(r)}`).toBe(true);
      cases++;
    }
    // The form left valid: every field back to a sane value.
    await sweepForm(page, {
      '#lab-temperatures': '0',
      '#lab-topks': '0',
      '#lab-topps': '1',
      '#lab-max-new': '4',
      '#lab-seeds': '1',
      '#lab-ctx': '',
    });

    for (let i = 0; i < 120; i++) {
      const f = PG_FIELDS[i % PG_FIELDS.length];
      const text = fuzzText(rand, false);
      const spec = NUMBER_SPECS[f.key];
      const t1 = performance.now();
      const r = await within(
        page.evaluate(
          ({ selector, text, key }) => {
            const el = document.querySelector(selector) as HTMLInputElement;
            el.value = text;
            el.dispatchEvent(new Event('change', { bubbles: true }));
            return new Promise<{ value: number; message: string }>((resolve) =>
              requestAnimationFrame(() =>
                resolve({
                  value: window.quantlab!.playground.settings[key as keyof SamplingSettings] as number,
                  // The message beside the field itself (a row of the sampling controls).
                  message: el.closest('.row')?.querySelector('.message')?.textContent ?? '',
                }),
              ),
            );
          },
          { selector: f.selector, text, key: f.key },
        ),
        f.selector,
      );
      const inRange =
        Number.isFinite(r.value) &&
        r.value >= spec.min &&
        r.value <= spec.max &&
        (!spec.integer || Number.isInteger(r.value));
      expect(inRange, `${f.selector} = ${JSON.stringify(text.slice(0, 80))}: ${JSON.stringify(r)}`).toBe(true);
      // A value that is not exactly what was typed comes with a message.
      if (Number(text) !== r.value)
        expect(r.message, `${f.selector} = ${JSON.stringify(text.slice(0, 80))}`).not.toBe('');
      trips.push(performance.now() - t1);
      cases++;
    }
    const seconds = (performance.now() - t0) / 1000;
    console.log(
      `[lab-bounds] fuzz: ${cases} cases in ${seconds.toFixed(1)} s, round trips median ${median(trips).toFixed(0)} ms, slowest ${Math.max(...trips).toFixed(0)} ms`,
    );
    // Each case is one round trip that sets the field and reads the page's answer back.
    expectAnswering(trips);
    expect(browser.errors).toEqual([]);
  });
});

/** An independent check of what the lab accepted: a finite number (list) within the field's range. */
function labAccepts(id: string, text: string): boolean {
  const parts = text.split(',').map((p) => p.trim());
  const nums = parts.map((p) => (id === '#lab-topks' && p.toLowerCase() === 'off' ? 0 : Number(p)));
  if (id === '#lab-ctx' && text.trim() === '') return true;
  if (parts.some((p) => p === '') || nums.some((n) => !Number.isFinite(n))) return false;
  const whole = (n: number) => Number.isInteger(n);
  const within = (spec: { min: number; max: number }) => (n: number) => n >= spec.min && n <= spec.max;
  const rules: Record<string, (n: number) => boolean> = {
    '#lab-temperatures': within(NUMBER_SPECS.temperature),
    '#lab-topks': (n) => whole(n) && within(NUMBER_SPECS.topK)(n),
    '#lab-topps': within(NUMBER_SPECS.topP),
    '#lab-max-new': (n) => whole(n) && within(NUMBER_SPECS.maxNewTokens)(n),
    '#lab-seeds': (n) => whole(n) && n >= 1,
    '#lab-ctx': (n) => whole(n) && n >= 3,
  };
  return nums.every(rules[id]);
}

// The page for people (issue 14, items 4 to 7) on the built site, in one page session: axe-core
// finds no serious or critical violation on the first screen, with the lab's report shown, during a
// generation and with the Quantize dialog open (light and dark); a keyboard-only walk-through
// reaches the prompt and Generate before the setup's forms, generates, changes the temperature,
// walks a column's tokens with their tooltip (focus visible on each) and opens the lab; metric names explain themselves on focus
// and hover; the lab's charts keep their titles clear and the top-k select filled; and layout
// screenshots at 390, 1400 and 2560 px and in dark mode go to test-results/ with their layout checked
// (the columns near the top of the first screen; the setup folded to a line on a phone, opened by Enter);
// every chart already drawn takes the dark tokens' colours when the scheme changes, and the light ones back.
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CHECKPOINT, TOKENIZER } from '../helpers/aidreams';
import { REPO } from '../helpers/paths';
import { column, gotoReady, waitSettled } from './columns';
import { launchChromium, serveStatic, type BrowserSession, type StaticServer } from './harness';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const SHOTS = path.join(REPO, 'test-results');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** axe-core's serious and critical violations on the page as it is now (injected once per page load). */
async function axeViolations(page: Page, state: string): Promise<AxeViolation[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ content: AXE });
  const all = await page.evaluate(async () => {
    const r = await (
      window as unknown as { axe: { run: (c: Document, o: object) => Promise<{ violations: AxeViolation[] }> } }
    ).axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target })),
    }));
  });
  const bad = all.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  console.log(
    `[axe] ${state}: ${all.length} violation(s), ${bad.length} serious or critical` +
      (all.length ? ` (${all.map((v) => `${v.id}: ${v.impact}, ${v.nodes.length} node(s)`).join('; ')})` : ''),
  );
  return bad;
}

const describeBad = (v: AxeViolation[]) =>
  v.map((x) => `${x.id} (${x.impact}): ${x.help} at ${x.nodes.map((n) => n.target.join(' ')).join(', ')}`).join('\n');

/**
 * Presses `key` until the focused element matches `selector` (at most `max` presses); returns what
 * each press focused, by id (else tag and first class), the last one matching `selector`.
 */
async function walkUntil(page: Page, key: string, selector: string, max = 200): Promise<string[]> {
  const path: string[] = [];
  for (let i = 1; i <= max; i++) {
    await page.keyboard.press(key);
    const [name, hit] = await page.evaluate((s) => {
      const e = document.activeElement;
      if (!e) return ['none', false] as const;
      return [e.id ? `#${e.id}` : `${e.tagName.toLowerCase()}.${e.classList[0] ?? ''}`, e.matches(s)] as const;
    }, selector);
    path.push(name);
    if (hit) return path;
  }
  throw new Error(`${selector} not reached with ${max} presses of ${key}: ${path.join(' ')}`);
}

/** Presses `key` until the focused element matches `selector` (at most `max` presses); returns the presses. */
async function pressUntil(page: Page, key: string, selector: string, max = 200): Promise<number> {
  return (await walkUntil(page, key, selector, max)).length;
}

/** The focused element's outline and box: focus is visible where its outline is drawn around a box that has a size. */
async function focusRing(page: Page) {
  return page.evaluate(() => {
    const e = document.activeElement!;
    const r = e.getBoundingClientRect();
    const cs = getComputedStyle(e);
    return { outline: cs.outlineStyle, width: parseFloat(cs.outlineWidth), boxHeight: r.height };
  });
}

/** Layout at the page's current width: no sideways page scroll, columns in one row, the report table inside the lab. */
async function layout(page: Page) {
  return page.evaluate(() => {
    const cols = [...document.querySelectorAll('article.column')].map((c) => c.getBoundingClientRect());
    const lab = document.querySelector('#lab')!.getBoundingClientRect();
    const table = document.querySelector('#lab-quality')?.parentElement?.getBoundingClientRect();
    // What sticks out of the page first (an element past the right edge whose parent is not), to name the culprit.
    const scrolls = (e: Element | null): boolean =>
      !!e &&
      e !== document.body &&
      (/(auto|scroll|hidden)/.test(getComputedStyle(e).overflowX) || scrolls(e.parentElement));
    const wide = [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > innerWidth + 1)
      .filter((e) => e.parentElement!.getBoundingClientRect().right <= innerWidth + 1)
      .filter((e) => !scrolls(e.parentElement))
      .slice(0, 5)
      .map((e) => `${e.tagName.toLowerCase()}#${e.id}.${[...e.classList].join('.')}`);
    // Elements reaching furthest right that are not clipped by a scrolling ancestor's box.
    const clipped = (e: Element): boolean => {
      for (let p = e.parentElement; p && p !== document.body; p = p.parentElement)
        if (
          /(auto|scroll|hidden)/.test(getComputedStyle(p).overflowX) &&
          p.getBoundingClientRect().right <= innerWidth + 1
        )
          return getComputedStyle(e).position !== 'fixed' && getComputedStyle(e).position !== 'absolute';
      return false;
    };
    const furthest = [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > innerWidth + 1 && !clipped(e))
      .sort((a, b) => b.getBoundingClientRect().right - a.getBoundingClientRect().right)
      .slice(0, 6)
      .map(
        (e) =>
          `${e.tagName.toLowerCase()}#${e.id}.${[...e.classList].join('.')}@${Math.round(e.getBoundingClientRect().right)}/${getComputedStyle(e).position}`,
      );
    return {
      overflow: document.documentElement.scrollWidth - innerWidth,
      wide,
      furthest,
      columnTops: [...new Set(cols.map((r) => Math.round(r.top)))],
      columnWidths: cols.map((r) => Math.round(r.width)),
      tableRight: table ? table.right : 0,
      labRight: lab.right,
    };
  });
}

/**
 * The chart tokens as the page resolves them now (getComputedStyle of the CSS variables), and each
 * chart.js chart's resolved colours of its y (vertical) scale: tick labels, axis title and grid lines.
 */
async function chartColours(page: Page) {
  return page.evaluate(() => {
    const css = getComputedStyle(document.documentElement);
    const { Chart } = window.quantlab!;
    const charts = [...document.querySelectorAll('canvas')].flatMap((canvas) => {
      const c = Chart.getChart(canvas);
      if (!c) return [];
      const y = Object.values(c.scales).find((s) => !s.isHorizontal());
      if (!y) return [];
      const o = y.options as unknown as {
        ticks: { color: unknown };
        title: { color: unknown };
        grid: { color: unknown };
      };
      return [{ ticks: String(o.ticks.color), title: String(o.title.color), grid: String(o.grid.color) }];
    });
    return {
      text: css.getPropertyValue('--chart-text').trim(),
      grid: css.getPropertyValue('--chart-grid').trim(),
      charts,
    };
  });
}

describe('accessible, themed and responsive page', () => {
  let server: StaticServer;
  let browser: BrowserSession;
  let page: Page;
  let stems: string[];

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    server = await serveStatic(inject('siteDir'));
    browser = await launchChromium();
    page = browser.page;
    await page.setViewportSize({ width: 1400, height: 1000 });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('has no serious or critical axe violation on the first screen', async () => {
    await gotoReady(page, `${server.url}?device=wasm`);
    await page.locator('article.column').first().waitFor();
    stems = await page.locator('article.column').evaluateAll((els) => els.map((e) => e.getAttribute('data-variant')!));
    expect(stems.length).toBeGreaterThan(0);
    expect(describeBad(await axeViolations(page, 'first screen'))).toBe('');
  });

  it('generates, changes the temperature and opens the lab with the keyboard alone', async () => {
    const gens = await Promise.all(
      stems.map(async (s) => Number(await column(page, s).getAttribute('data-generation'))),
    );
    // Wait for any generation the first screen started by itself, so Enter starts a new one.
    for (const [i, s] of stems.entries())
      if ((await column(page, s).getAttribute('data-status')) === 'generating') await waitSettled(page, s, gens[i] - 1);
    const before = await Promise.all(
      stems.map(async (s) => Number(await column(page, s).getAttribute('data-generation'))),
    );
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    // From the page's start: the header's links, the help, then the prompt and Generate. At this
    // width the setup is a side bar after the columns: none of its forms comes first.
    const toGenerate = await walkUntil(page, 'Tab', '#generate');
    const tabs = toGenerate.length;
    expect(toGenerate.indexOf('#prompt'), toGenerate.join(' ')).toBe(tabs - 2);
    expect(toGenerate.filter((n) => ['#model', '#open-files', '#top-p', '#seed', '#live'].includes(n))).toEqual([]);
    expect(tabs).toBeLessThanOrEqual(8);
    // Focus is visible where it is: an outline from :focus-visible.
    expect(await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle)).not.toBe('none');
    await page.keyboard.press('Enter');
    for (const [i, s] of stems.entries()) expect(await waitSettled(page, s, before[i], 120_000)).toBe('done');

    const t0 = await page.evaluate(() => window.quantlab!.playground.settings.temperature);
    const settled = await Promise.all(
      stems.map(async (s) => Number(await column(page, s).getAttribute('data-generation'))),
    );
    await pressUntil(page, 'Tab', '#temperature');
    await page.keyboard.press('ArrowRight');
    await expect
      .poll(() => page.evaluate(() => window.quantlab!.playground.settings.temperature))
      .toBeCloseTo(t0 + 0.05, 6);
    // Live mode regenerates every column on the change.
    for (const [i, s] of stems.entries()) expect(await waitSettled(page, s, settled[i], 120_000)).toBe('done');

    // On to Top-k, then into the first column's text: one stop per column (its last focused token),
    // before the setup's forms and the lab; the arrow keys move along the tokens with their tooltip.
    const toTopK = await walkUntil(page, 'Tab', '#top-k', 4);
    const toToken = await walkUntil(page, 'Tab', 'article.column .tok', 20);
    expect([...toTopK, ...toToken].filter((n) => n.startsWith('#model') || n.startsWith('#lab'))).toEqual([]);
    const first = stems[0];
    expect(
      await page.evaluate(() => document.activeElement!.closest('article.column')!.getAttribute('data-variant')),
    ).toBe(first);
    expect(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.tokenIndex)).toBe('0');
    const ring = await focusRing(page);
    expect(ring.outline).not.toBe('none');
    expect(ring.width).toBeGreaterThan(0);
    expect(ring.boxHeight).toBeGreaterThan(0);
    await page.keyboard.press('ArrowRight');
    expect(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.tokenIndex)).toBe('1');
    const tip = page.locator(`#tip-${first}`);
    expect(await tip.getAttribute('role')).toBe('tooltip');
    expect(await tip.getAttribute('data-token-index')).toBe('1');
    expect(await tip.isVisible()).toBe(true);
    // The last token too (one that wrote nothing, such as an end of text, still has a box to outline).
    const n = Number(await column(page, first).getAttribute('data-tokens'));
    await page.keyboard.press('End');
    expect(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.tokenIndex)).toBe(String(n - 1));
    const last = await focusRing(page);
    expect(last.outline).not.toBe('none');
    expect(last.boxHeight).toBeGreaterThan(0);
    // Tab leaves the text for the column's next control, not the next token.
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement!.classList.contains('tok'))).toBe(false);
    // The setup comes after the columns.
    const toSetup = await walkUntil(page, 'Tab', '#model', 80);
    expect(toSetup.filter((n) => n.startsWith('#lab'))).toEqual([]);

    await pressUntil(page, 'Shift+Tab', 'a[href="#lab"]');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.evaluate(() => location.hash)).toBe('#lab');
    await pressUntil(page, 'Tab', '#lab-run-quality', 60);
    await page.keyboard.press(' ');
    // Space on Run report started the report (the next test waits for its table).
    await expect
      .poll(() => page.evaluate(() => window.quantlab!.lab.running ?? (window.quantlab!.lab.report ? 'shown' : null)))
      .toMatch(/^(quality|shown)$/);
    console.log(`[keyboard] ${tabs} Tab presses from the page's start to Generate`);
  });

  it('explains a metric on keyboard focus and on hover, in a tooltip the name is described by', async () => {
    // The report the keyboard started: its workers load and score on a machine that may be busy.
    await page.locator('#lab-quality').waitFor({ timeout: 540_000 });
    const term = page.locator('#lab-quality button.term[data-metric="kld_mean"]');
    await term.focus();
    const tip = page.locator(`#${await term.getAttribute('aria-describedby')}`);
    expect(await tip.getAttribute('role')).toBe('tooltip');
    expect(await tip.isVisible()).toBe(true);
    expect(await tip.textContent()).toMatch(/Kullback-Leibler.*Lower is better\. Typical: q8 about 0\.005/);
    await page.keyboard.press('Escape');
    expect(await tip.isVisible()).toBe(false);
    const decode = page.locator(`article.column[data-variant="${stems[0]}"] button.term[data-metric="decode_tps"]`);
    await decode.hover();
    const decodeTip = page.locator(`#${await decode.getAttribute('aria-describedby')}`);
    expect(await decodeTip.isVisible()).toBe(true);
    expect(await decodeTip.textContent()).toMatch(/Higher is better/);
    await page.mouse.move(0, 0);
  });

  it('has no serious or critical axe violation with the lab report shown', async () => {
    expect(describeBad(await axeViolations(page, 'lab report'))).toBe('');
  });

  it('draws every column on one latency scale, sweep titles clear of their buttons, and names the top-k drawn', async () => {
    // A regeneration (live mode, after the keyboard test's temperature change) may still be writing:
    // the shared top is read once every column has finished.
    for (const s of stems)
      await expect.poll(() => column(page, s).getAttribute('data-status'), { timeout: 120_000 }).toBe('done');
    const readTops = () =>
      page
        .locator('article.column .chart[data-y-max]')
        .evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-y-max'))));
    await expect.poll(async () => (await readTops()).length, { timeout: 10_000 }).toBe(stems.length);
    await expect.poll(async () => new Set(await readTops()).size, { timeout: 10_000 }).toBe(1);
    expect((await readTops())[0]).toBeGreaterThan(0);

    for (const [id, v] of [
      ['#lab-temperatures', '0.5, 1'],
      ['#lab-topks', '1, 5'],
      ['#lab-topps', '1'],
      ['#lab-max-new', '4'],
      ['#lab-seeds', '1'],
    ])
      await page.fill(id, v);
    await page.locator('#lab-run-sweep').click();
    await page.waitForFunction(
      () => {
        const s = document.querySelector('#lab-sweep-status');
        return (
          s && s.getAttribute('data-total') !== '0' && s.getAttribute('data-done') === s.getAttribute('data-total')
        );
      },
      undefined,
      { timeout: 300_000, polling: 200 },
    );
    // The select names the top-k the charts draw (the first sampling one, 5), never blank.
    expect(await page.locator('#lab-lines-topk').inputValue()).toBe('5');
    // Each chart's PNG button sits above its canvas, not on the title.
    const overlaps = await page
      .locator('#lab-sweep-charts figure')
      .evaluateAll((figs) =>
        figs.map(
          (f) =>
            f.querySelector('.png')!.getBoundingClientRect().bottom -
            f.querySelector('canvas')!.getBoundingClientRect().top,
        ),
      );
    expect(overlaps.length).toBeGreaterThan(0);
    for (const o of overlaps) expect(o).toBeLessThanOrEqual(0);
    // And its data is one keypress away, as a table.
    const first = page.locator('#lab-sweep-charts figure').first();
    await first.locator('summary').focus();
    await page.keyboard.press('Enter');
    // The table is drawn when the details open, a frame after the key.
    await expect.poll(() => first.locator('table tbody tr').count(), { timeout: 10_000 }).toBe(2);
  });

  it('keeps its layout at 390, 1400 and 2560 px and in dark mode (screenshots in test-results/)', async () => {
    for (const width of [390, 1400, 2560]) {
      await page.setViewportSize({ width, height: 1000 });
      await page.evaluate(() => window.scrollTo(0, 0));
      // chart.js resizes its canvases on a ResizeObserver, a frame or more after the width changes: poll.
      let last: Awaited<ReturnType<typeof layout>> | undefined;
      try {
        await expect.poll(async () => (last = await layout(page)).overflow, { timeout: 60_000 }).toBeLessThanOrEqual(0);
      } catch {
        // Name what sticks out, so the failure says where to look.
        throw new Error(`sideways scroll at ${width} px: ${JSON.stringify(last)}`);
      }
      const l = await layout(page);
      console.log(`[layout] ${width} px: ${JSON.stringify(l)}`);
      expect(l.overflow, `page scrolls sideways at ${width} px`).toBeLessThanOrEqual(0);
      expect(l.columnTops, `columns side by side at ${width} px`).toHaveLength(1);
      expect(l.tableRight, `report table inside the lab at ${width} px`).toBeLessThanOrEqual(l.labRight + 0.5);
      for (const w of l.columnWidths) expect(w).toBeGreaterThanOrEqual(Math.min(280, width - 60));
      // The columns are the first screen: right under the prompt, not behind the setup forms.
      expect(l.columnTops[0], `first column's top at ${width} px`).toBeLessThan(width < 1000 ? 800 : 500);
      await page.screenshot({ path: path.join(SHOTS, `a11y-layout-${width}.png`), fullPage: true });
      if (width < 1000) {
        // On a narrow screen the setup is folded to its one-line summary; Enter opens and closes it.
        const setup = page.locator('details#setup');
        expect(await setup.getAttribute('open')).toBeNull();
        expect(await page.locator('#setup-summary').textContent()).toMatch(/ · .*temperature [\d.]+, top-k \d+/);
        await setup.locator('summary').focus();
        await page.keyboard.press('Enter');
        await expect.poll(() => page.locator('#model').isVisible()).toBe(true);
        await page.keyboard.press('Enter');
        await expect.poll(() => page.locator('#model').isVisible()).toBe(false);
      }
    }
    await page.setViewportSize({ width: 1400, height: 1000 });
    const light = await chartColours(page);
    expect(light.charts.length).toBeGreaterThan(stems.length);
    await page.emulateMedia({ colorScheme: 'dark' });
    expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(13, 17, 23)');
    // Every chart drawn in light takes the dark token's text and grid colours (charts drawn before the
    // switch kept the light ones: chart.js had copied them into their options). The scheme's change
    // event comes with the next frame: poll.
    const dark = await chartColours(page);
    expect(dark.text).not.toBe(light.text);
    const uniform = (c: Awaited<ReturnType<typeof chartColours>>) => [
      ...new Set(c.charts.flatMap((x) => [`text ${x.ticks}`, `text ${x.title}`, `grid ${x.grid}`])),
    ];
    await expect
      .poll(async () => uniform(await chartColours(page)), { timeout: 10_000 })
      .toEqual([`text ${dark.text}`, `grid ${dark.grid}`]);
    await page.screenshot({ path: path.join(SHOTS, 'a11y-layout-1400-dark.png'), fullPage: true });
    expect(describeBad(await axeViolations(page, 'lab report, dark'))).toBe('');
    await page.emulateMedia({ colorScheme: 'light' });
    // And back: the light token's colours again.
    await expect
      .poll(async () => uniform(await chartColours(page)), { timeout: 10_000 })
      .toEqual([`text ${light.text}`, `grid ${light.grid}`]);
  });

  it('has no serious or critical axe violation during a generation', async () => {
    // A generation that never answers holds the page in its generating state for as long as axe needs.
    await page.evaluate(() => (window.quantlabTest = { hang: 'generate', stopMs: 500 }));
    await page.locator('#generate').click();
    for (const s of stems)
      await expect.poll(() => column(page, s).getAttribute('data-status'), { timeout: 120_000 }).toBe('generating');
    const bad = await axeViolations(page, 'generating');
    await page.locator('#stop').click();
    for (const s of stems)
      await expect.poll(() => column(page, s).getAttribute('data-status'), { timeout: 10_000 }).toBe('idle');
    await page.evaluate(() => (window.quantlabTest = undefined));
    expect(describeBad(bad)).toBe('');
  });

  it('has no serious or critical axe violation with the Quantize dialog open', async () => {
    await page.setInputFiles('#open-files', [CHECKPOINT, TOKENIZER]);
    await page
      .locator('#import-status')
      .filter({ hasText: /Imported|Error/ })
      .waitFor({ timeout: 120_000 });
    expect(await page.locator('#import-status').textContent()).toMatch(/Imported/);
    await page.locator('#quantize').click();
    await page.locator('dialog[open]').waitFor();
    expect(describeBad(await axeViolations(page, 'Quantize dialog'))).toBe('');
    await page.screenshot({ path: path.join(SHOTS, 'a11y-dialog-1400.png') });
    await page.keyboard.press('Escape');
    await expect.poll(() => page.locator('dialog[open]').count()).toBe(0);
    expect(browser.errors).toEqual([]);
  });

  it('keeps 8 precisions side by side at 1400 and 390 px: the columns scroll sideways in their row, the page does not', async () => {
    const eight = [
      'model',
      'model_fp16',
      'model_quantized',
      'model_q4',
      'model_q4_hqq',
      'model_q4_gptq',
      'model_bnb4',
      'model_bnb4_fp4',
    ];
    await gotoReady(
      page,
      `${server.url}?model=served:aidreams260K&variants=${eight.join(',')}&autorun=0&live=0&device=wasm`,
    );
    expect(
      await page.locator('article.column').evaluateAll((els) => els.map((e) => e.getAttribute('data-variant'))),
    ).toEqual(eight);
    for (const width of [1400, 390]) {
      await page.setViewportSize({ width, height: 1000 });
      await expect.poll(async () => (await layout(page)).overflow).toBeLessThanOrEqual(0);
      const l = await layout(page);
      const row = await page.locator('#columns').evaluate((e) => ({
        scrolls: e.scrollWidth > e.clientWidth + 1,
        overflowX: getComputedStyle(e).overflowX,
      }));
      console.log(`[layout] 8 columns at ${width} px: ${JSON.stringify({ ...l, row })}`);
      expect(l.columnTops, `8 columns in one row at ${width} px`).toHaveLength(1);
      for (const w of l.columnWidths) expect(w).toBeGreaterThanOrEqual(Math.min(280, width - 60));
      expect(row).toEqual({ scrolls: true, overflowX: 'auto' });
      await page.screenshot({ path: path.join(SHOTS, `a11y-layout-8-columns-${width}.png`) });
    }
    expect(browser.errors).toEqual([]);
  });
});

// The first screen, as a new visitor gets it: the site opened offline with default settings
// generates with the trained built-in model at fp32, q8 and q4 without a click, with no error,
// no scaffolding text in the header, the columns in the first viewport (right under the prompt)
// and no layout shift while tokens stream. Then the token view:
// each token's data-kld against the KL divergence computed here in float64 from the same model
// files teacher-forced in onnxruntime-node (the project's Node runner), the tooltip's candidates
// (hover and keyboard), and diff mode against an LCS computed here.
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BUILTIN_MODEL_ID } from '../../src/lib/catalog';
import { Runner } from '../../src/lib/runner/runner';
import { configureNodeTransformers } from '../../src/node/transformers-env';
import { column, waitDone } from './columns';
import { launchChromium, serveStatic, type BrowserSession, type StaticServer } from './harness';

const STEMS = ['model', 'model_quantized', 'model_q4'];

declare global {
  interface Window {
    /** Layout shifts (no recent input) with their time, recorded from the page's start. */
    shifts?: { t: number; value: number; nodes: string[]; rewrap: boolean }[];
    /** When the first token of any column appeared, and when every column was done. */
    firstTokenAt?: number;
    allDoneAt?: number;
  }
}

/** Softmax in float64 by its definition, from a row of float32 logits. */
function softmax(row: Float32Array): number[] {
  let max = -Infinity;
  for (const x of row) max = Math.max(max, x);
  const e = Array.from(row, (x) => Math.exp(x - max));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / z);
}

const kl = (p: number[], q: number[]) => p.reduce((s, pi, i) => s + (pi > 0 ? pi * Math.log(pi / q[i]) : 0), 0);

const top5 = (p: number[]) =>
  p
    .map((x, id) => ({ id, p: x }))
    .sort((a, b) => b.p - a.p || a.id - b.id)
    .slice(0, 5);

/** LCS length by the textbook table (the page's diff is checked against it). */
function lcsLength(a: number[], b: number[]): number {
  const t = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      t[i][j] = a[i - 1] === b[j - 1] ? t[i - 1][j - 1] + 1 : Math.max(t[i - 1][j], t[i][j - 1]);
  return t[a.length][b.length];
}

async function idsOf(page: Page): Promise<Record<string, number[]>> {
  return page.evaluate(() =>
    Object.fromEntries(window.quantlab!.playground.columns.map((c) => [c.variant.stem, [...c.ids]])),
  );
}

describe('the first screen', () => {
  let server: StaticServer;
  let browser: BrowserSession;
  let page: Page;
  const runners = new Map<string, Runner>();
  /** Per column: the Node runner's distributions at each generated token, fp32's and the column's. */
  const node = new Map<string, { P: number[][]; Q: number[][]; ids: number[]; text: string }>();

  beforeAll(async () => {
    server = await serveStatic(inject('siteDir'));
    browser = await launchChromium();
    page = browser.page;
    await page.setViewportSize({ width: 1400, height: 1000 });
    configureNodeTransformers({ allowRemote: false });
    const dir = path.join(inject('siteDir'), 'models', BUILTIN_MODEL_ID);
    for (const stem of STEMS) {
      const r = new Runner();
      await r.load({ modelId: dir, variant: stem, device: 'cpu' });
      runners.set(stem, r);
    }
  });

  afterAll(async () => {
    for (const r of runners.values()) await r.dispose();
    await browser?.close();
    await server?.close();
  });

  it('generates at fp32, q8 and q4 on opening, offline and without a click, with no error and no layout shift while tokens stream', async () => {
    await page.addInitScript(() => {
      window.shifts = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries() as (PerformanceEntry & {
          value: number;
          hadRecentInput: boolean;
          sources?: { node?: Node | null; previousRect?: DOMRectReadOnly; currentRect?: DOMRectReadOnly }[];
        })[])
          if (!e.hadRecentInput)
            window.shifts!.push({
              t: e.startTime,
              value: e.value,
              // Which element moved, and from where to where (a text node is named by its parent and text).
              nodes: (e.sources ?? []).map((s) => {
                const n = s.node;
                const el = n instanceof Element ? n : n?.parentElement;
                const name = el ? `${el.tagName.toLowerCase()}.${el.className}` : String(n);
                const text = n && !(n instanceof Element) ? ` "${(n.textContent ?? '').slice(0, 40)}"` : '';
                const r = (x?: DOMRectReadOnly) => (x ? `${x.x},${x.y} ${x.width}x${x.height}` : '');
                return `${name}${text} ${r(s.previousRect)} -> ${r(s.currentRect)}`;
              }),
              // Every source is streamed text inside a column's output box (a word re-wrapping).
              rewrap: (e.sources ?? []).every((s) => {
                const n = s.node;
                const el = n instanceof Element ? n : n?.parentElement;
                return !!el?.closest('.output') && !el.classList.contains('output');
              }),
            });
      }).observe({ type: 'layout-shift', buffered: true });
      const timer = setInterval(() => {
        const cols = [...document.querySelectorAll('article.column')];
        if (window.firstTokenAt === undefined && cols.some((c) => Number(c.getAttribute('data-tokens')) > 0))
          window.firstTokenAt = performance.now();
        if (cols.length && cols.every((c) => c.getAttribute('data-status') === 'done')) {
          window.allDoneAt = performance.now();
          clearInterval(timer);
        }
      }, 10);
    });
    const t0 = performance.now();
    await page.goto(server.url);
    await page.locator('html[data-ready="true"]').waitFor({ state: 'attached' });
    expect(
      await page.locator('article.column').evaluateAll((els) => els.map((e) => e.getAttribute('data-variant'))),
    ).toEqual(STEMS);
    expect(await page.locator('#prompt').inputValue()).not.toBe('');
    // The columns are the first screen, right under the prompt: in the 1400 x 1000 viewport (so the
    // no-shift check below watches them), not behind the setup forms.
    const top = await page.evaluate(() => ({
      generate: document.querySelector('#generate')!.getBoundingClientRect().bottom,
      column: document.querySelector('article.column')!.getBoundingClientRect().top,
      output: document.querySelector('article.column .output')!.getBoundingClientRect().bottom,
    }));
    console.log(
      `[first-screen] at 1400 x 1000: Generate ends at ${top.generate} px, first column starts at ${top.column} px`,
    );
    expect(top.generate).toBeLessThan(top.column);
    expect(top.output).toBeLessThan(1000);
    // Nobody clicks: every column loads and writes.
    for (const stem of STEMS) await waitDone(page, stem, 0, 180_000);
    console.log(`[first-screen] three columns done ${((performance.now() - t0) / 1000).toFixed(1)} s after opening`);
    expect(await page.locator('.column-error').count()).toBe(0);
    for (const stem of STEMS) expect(Number(await column(page, stem).getAttribute('data-tokens'))).toBeGreaterThan(0);

    // The header says what this is and what to do next; platform details sit in the footer.
    const header = (await page.locator('header.top').textContent()) ?? '';
    expect(header).toMatch(/precisions/);
    expect(header).not.toMatch(/crossOriginIsolated|WebGPU|worker|pong/);
    expect(await page.locator('#next-step').textContent()).toMatch(/^Next: /);
    expect(await page.locator('footer #env[data-ready="true"]').textContent()).toContain('crossOriginIsolated');

    // Each column's per-token latency chart holds its points (one per token after the first).
    for (const stem of STEMS) {
      const tokens = Number(await column(page, stem).getAttribute('data-tokens'));
      await expect
        .poll(() => column(page, stem).locator('.chart').getAttribute('data-points'), { timeout: 5000 })
        .toBe(String(tokens - 1));
    }

    // No layout shift from the first token to the last column's end.
    const { shifts, from, to } = await page.evaluate(() => ({
      shifts: window.shifts!,
      from: window.firstTokenAt!,
      to: window.allDoneAt!,
    }));
    // A word that grows past the end of its line moves to the next one, as wrapping text does: that
    // moves only text inside the fixed-height output box, and is counted apart. Anything else that
    // moves (a box growing, a status line, a chart) is a layout shift the page must not make.
    const streaming = shifts.filter((s) => s.t >= from && s.t <= to);
    const during = streaming.filter((s) => !s.rewrap);
    console.log(
      `[first-screen] layout shifts: ${shifts.length} in all (sum ${shifts.reduce((a, s) => a + s.value, 0).toFixed(4)}), ${streaming.length} while streaming, of which ${streaming.length - during.length} words re-wrapping in an output box`,
      JSON.stringify(during),
    );
    expect(from).toBeLessThan(to);
    expect(during).toEqual([]);

    // Once every column has finished and been compared, each output box fits its text: no empty line
    // under a text shorter than the reserve (at least three lines kept), and the rows under the text
    // stay lined up across the columns (at the tallest box).
    await page.waitForFunction(
      () => [...document.querySelectorAll('.compare-status')].every((e) => e.getAttribute('data-state') === 'done'),
      null,
      { timeout: 60_000, polling: 100 },
    );
    const fit = () =>
      page.locator('article.column').evaluateAll((cols) =>
        cols.map((c) => {
          const out = c.querySelector<HTMLElement>('.output')!;
          const cs = getComputedStyle(out);
          const line = parseFloat(cs.lineHeight);
          const range = document.createRange();
          range.selectNodeContents(out);
          const box = out.getBoundingClientRect();
          return {
            stem: c.getAttribute('data-variant'),
            reserved: Number(out.dataset.lines),
            lines: Math.round((box.height - parseFloat(cs.paddingTop) - parseFloat(cs.paddingBottom)) / line),
            // Space under the text's last line, in lines.
            empty: (box.bottom - parseFloat(cs.paddingBottom) - range.getBoundingClientRect().bottom) / line,
            below: Math.round(c.querySelector('.lines')!.getBoundingClientRect().top),
          };
        }),
      );
    await expect
      .poll(async () => (await fit()).every((b) => b.empty < 1 || b.lines <= 3), { timeout: 5000 })
      .toBe(true);
    const boxes = await fit();
    console.log(`[first-screen] output boxes once done: ${JSON.stringify(boxes)}`);
    for (const b of boxes) expect(b.lines).toBeLessThanOrEqual(b.reserved);
    expect(new Set(boxes.map((b) => b.below)).size).toBe(1);

    expect(browser.externalRequests).toEqual([]);
    expect(browser.failedRequests).toEqual([]);
    expect(browser.errors).toEqual([]);
  });

  it("gives every token the KL divergence from fp32 that onnxruntime-node computes from the same files, on the column's own prefix", async () => {
    await page.waitForFunction(
      () => [...document.querySelectorAll('.compare-status')].every((e) => e.getAttribute('data-state') === 'done'),
      null,
      { timeout: 60_000, polling: 100 },
    );
    const ids = await idsOf(page);
    const prompt = await page.locator('#prompt').inputValue();
    const fp32 = runners.get('model')!;
    const promptIds = fp32.encode(prompt);
    const report: string[] = [];
    for (const stem of STEMS) {
      const mine = ids[stem];
      const all = [...promptIds, ...mine];
      const base = await fp32.logits(all);
      const own = await runners.get(stem)!.logits(all);
      const V = base.vocab;
      const P: number[][] = [];
      const Q: number[][] = [];
      for (let k = 0; k < mine.length; k++) {
        const r = promptIds.length - 1 + k;
        P.push(softmax(base.data.subarray(r * V, (r + 1) * V)));
        Q.push(softmax(own.data.subarray(r * V, (r + 1) * V)));
      }
      const text = fp32.continuation(promptIds, mine);
      node.set(stem, { P, Q, ids: mine, text });

      const c = column(page, stem);
      // The text is the generated text, token by token.
      expect(await c.locator('.output').textContent()).toBe(text);
      const shown = await c
        .locator('.output [data-token-index]')
        .evaluateAll((els) => els.map((e) => [Number(e.getAttribute('data-token-index')), e.getAttribute('data-kld')]));
      expect(shown.map(([i]) => i)).toEqual(mine.map((_, i) => i));
      let maxErr = 0;
      let maxKld = 0;
      for (const [i, kld] of shown) {
        const want = kl(P[i as number], Q[i as number]);
        expect(kld).not.toBeNull();
        expect(Math.abs(Number(kld) - want)).toBeLessThan(1e-4);
        maxErr = Math.max(maxErr, Math.abs(Number(kld) - want));
        maxKld = Math.max(maxKld, want);
      }
      if (stem !== 'model') expect(maxKld).toBeGreaterThan(1e-3);
      report.push(
        `${stem}: ${mine.length} tokens, max KLD ${maxKld.toFixed(4)}, max |page - node| ${maxErr.toExponential(1)}`,
      );
    }
    console.log(`[first-screen] ${report.join('; ')}`);
  });

  it('shows the probability and top-5 candidates of the column and of fp32 in a tooltip, on hover and on keyboard focus', async () => {
    const stem = 'model_q4';
    const { P, Q, ids } = node.get(stem)!;
    // The token where q4 departs most from fp32.
    let at = 0;
    for (let k = 1; k < ids.length; k++) if (kl(P[k], Q[k]) > kl(P[at], Q[at])) at = k;
    const c = column(page, stem);
    // The token's tooltip (the figures' definitions are tooltips too).
    const tip = c.locator('.output ~ [role="tooltip"]');

    const check = async (k: number) => {
      await expect.poll(() => tip.getAttribute('data-token-index')).toBe(String(k));
      expect(Number(await tip.locator('[data-k="p"]').getAttribute('data-value'))).toBeCloseTo(Q[k][ids[k]], 4);
      expect(Number(await tip.locator('[data-k="p-base"]').getAttribute('data-value'))).toBeCloseTo(P[k][ids[k]], 4);
      for (const [side, dist] of [
        ['column', Q[k]],
        ['baseline', P[k]],
      ] as const) {
        const rows = await tip
          .locator(`[data-side="${side}"] li`)
          .evaluateAll((els) =>
            els.map((e) => ({ id: Number(e.getAttribute('data-id')), p: Number(e.getAttribute('data-p')) })),
          );
        const want = top5(dist);
        expect(rows.map((r) => r.id)).toEqual(want.map((r) => r.id));
        for (const [i, r] of rows.entries()) expect(Math.abs(r.p - want[i].p)).toBeLessThan(1e-4);
        expect(rows.reduce((a, r) => a + r.p, 0)).toBeLessThanOrEqual(1);
      }
    };

    // force: no wait for a steady frame (a page on a loaded machine may get few frames); the tooltip is what is awaited.
    await c.locator(`.output [data-token-index="${at}"]`).hover({ force: true });
    await check(at);
    console.log(`[first-screen] q4 tooltip at token ${at}: ${(await tip.textContent())?.replace(/\s+/g, ' ')}`);

    // Keyboard: focus a token, move with the arrow keys; Escape hides the tooltip.
    await page.mouse.move(0, 0);
    await expect.poll(() => tip.count()).toBe(0);
    await c.locator('.output [data-token-index="0"]').focus();
    await check(0);
    await page.keyboard.press('ArrowRight');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-token-index'))).toBe('1');
    await check(1);
    expect(await c.locator('.output [data-token-index="1"]').getAttribute('aria-describedby')).toBe(
      await tip.getAttribute('id'),
    );
    await page.keyboard.press('Escape');
    await expect.poll(() => tip.count()).toBe(0);
  });

  it("marks each column's text against fp32's in diff mode, keeping the text as it is", async () => {
    await page.locator('#diff-mode').check({ force: true });
    const base = node.get('model')!;
    for (const stem of ['model_quantized', 'model_q4']) {
      const { ids, text } = node.get(stem)!;
      const c = column(page, stem);
      const common = lcsLength(base.ids, ids);
      await expect.poll(() => c.locator('.output .ins').count()).toBe(ids.length - common);
      expect(await c.locator('.output').textContent()).toBe(text);
      // The fp32 tokens this column did not write are shown struck out (drawn by CSS, not in the text).
      const deleted = await c.locator('.output .del').count();
      expect(deleted > 0).toBe(common < base.ids.length);
    }
    await page.locator('#diff-mode').uncheck({ force: true });
    await expect.poll(() => page.locator('.output .ins').count()).toBe(0);
  });

  it("asks for the first column's worker, the WebGPU adapter and the built-in model's file list before the app's bundle runs", async () => {
    // The site's page lists the prestart entry (its own small chunk) before the app's, so it runs first.
    const html = await (await fetch(server.url)).text();
    const scripts = [...html.matchAll(/<script type="module"[^>]* src="\.\/(assets\/[^"]+)"/g)].map((m) => m[1]);
    expect(scripts.map((s) => s.replace(/-[\w-]+\.js$/, ''))).toEqual(['assets/prestart', 'assets/main']);
    const prestart = await (await fetch(new URL(scripts[0], server.url))).text();
    expect(prestart.length).toBeLessThan(30_000);
    expect(prestart).not.toContain(scripts[1].slice('assets/'.length));
    // On the page: each early act, and whether the app had set itself up (window.quantlab) by then.
    const p = await browser.context.newPage();
    try {
      await p.addInitScript(() => {
        const acts: [string, boolean][] = [];
        (window as unknown as { acts: typeof acts }).acts = acts;
        const note = (what: string) => acts.push([what, window.quantlab !== undefined]);
        const adapter = GPU.prototype.requestAdapter;
        GPU.prototype.requestAdapter = function (...a) {
          note('adapter');
          return adapter.apply(this, a);
        };
        const W = window.Worker;
        window.Worker = class extends W {
          constructor(url: string | URL, opts?: WorkerOptions) {
            super(url, opts);
            note(`worker ${opts?.name}`);
          }
        };
        const f = window.fetch;
        window.fetch = function (input: RequestInfo | URL, init?: RequestInit) {
          const url = input instanceof Request ? input.url : String(input);
          if (url.endsWith('models/index.json')) note('file list');
          return f.call(this, input, init);
        };
      });
      await p.goto(server.url);
      await p.locator('html[data-ready="true"]').waitFor({ state: 'attached' });
      const acts = await p.evaluate(() => (window as unknown as { acts: [string, boolean][] }).acts);
      expect(acts.slice(0, 3)).toEqual([
        ['worker column', false],
        ['adapter', false],
        ['file list', false],
      ]);
    } finally {
      await p.close();
    }
  });
});

// Four columns of the built-in model. The page stays responsive while they generate: every token of every column reaches the
// main thread as a message, and the work it causes there (state, text, divergence highlight,
// per-token charts) should never make a main-thread task over 50 ms — Chromium's "long task". That
// target is printed with each run's busiest tasks (quote it from the log); what is asserted is that no
// task comes near a freeze (200 ms): a timed target would flake on a shared machine (the brief's
// rule), a freeze would not.
//
// What is asserted is the main thread's own work per task: CPU time (thread time) of each task in
// a Chromium trace. The Long Tasks API measures wall time, which on a shared 2-core machine with
// the columns' ONNX Runtime threads busy includes the time the OS lets the page wait for a core
// (tasks doing 13 ms of work were seen taking 3.5 s of wall time here while other jobs ran); those
// wall figures are printed alongside, not asserted. Then the latency panel: floor ratio and the
// memory-bandwidth ceiling of each column.
import type { CDPSession, Page } from 'playwright-core';
import { lastTrace, mainThreadTasks } from './trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSite, type Site } from './harness';
import { column, gotoReady, loadColumns, waitDone } from './columns';

const STEMS = ['model', 'model_fp16', 'model_quantized', 'model_q4'];
const NEW_TOKENS = 300;
/** Chromium's long task: the target, printed. */
const LONG_MS = 50;
/** A task this long is a freeze anyone sees: asserted. */
const FREEZE_MS = 200;

declare global {
  interface Window {
    longTasks?: number[];
  }
}

describe('main-thread responsiveness', () => {
  let site: Site;
  let page: Page;
  let cdp: CDPSession;

  beforeAll(async () => {
    site = await openSite();
    page = site.page;
    cdp = await page.context().newCDPSession(page);
    const q = new URLSearchParams({
      device: 'wasm',
      model: 'served:quantlab-tiny',
      variants: STEMS.join(','),
      temperature: '0.8',
      top_k: '0',
      seed: '7',
      max_new_tokens: String(NEW_TOKENS),
      prompt: 'Once upon a time',
    });
    await gotoReady(page, `${site.server.url}?${q}`);
    // Load first: its one-off work (worker start, model parse) is not what this measures.
    await loadColumns(page, STEMS);
  });

  afterAll(() => site?.close());

  it('sees a busy main-thread task (so "none" below means something)', async () => {
    const tasks = await mainThreadTasks(cdp, async () => {
      await page.evaluate(
        () =>
          new Promise<void>((resolve) =>
            setTimeout(() => {
              // Long in wall time, so that even on a busy machine it gets over 100 ms of CPU.
              const end = performance.now() + 2000;
              while (performance.now() < end);
              resolve();
            }),
          ),
      );
    });
    expect(Math.max(...tasks.map((t) => t.cpuMs)), lastTrace).toBeGreaterThan(100);
  });

  it('does no main-thread task near a freeze while four columns generate, and prints the busiest against the 50 ms target', async () => {
    expect(await page.evaluate(() => [...document.querySelectorAll('.device')].map((e) => e.textContent))).toEqual(
      STEMS.map(() => expect.stringMatching(/^WASM chosen in settings; 1 thread \(4 columns share 2 cores\)/)),
    );
    await page.evaluate(() => {
      window.longTasks = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.longTasks!.push(e.duration);
      }).observe({ type: 'longtask' });
    });
    const before = Number(await column(page, STEMS[0]).getAttribute('data-generation'));
    const t0 = performance.now();
    const tasks = await mainThreadTasks(cdp, async () => {
      await page.locator('#generate').click();
      for (const stem of STEMS) await waitDone(page, stem, before, 120_000);
    });
    const seconds = (performance.now() - t0) / 1000;
    const tokens = await Promise.all(STEMS.map(async (s) => Number(await column(page, s).getAttribute('data-tokens'))));
    const total = tokens.reduce((a, b) => a + b, 0);
    const cpu = tasks.map((t) => t.cpuMs).sort((a, b) => b - a);
    const wallLong = await page.evaluate(() => window.longTasks!);
    console.log(
      `[responsiveness] ${total} tokens in 4 columns in ${seconds.toFixed(1)} s (${(total / seconds).toFixed(0)} tokens/s); ` +
        `${tasks.length} main-thread tasks, busiest ${cpu
          .slice(0, 5)
          .map((x) => x.toFixed(1))
          .join(' / ')} ms of CPU, ` +
        `total ${cpu.reduce((a, b) => a + b, 0).toFixed(0)} ms (long-task target ${LONG_MS} ms: ${cpu[0] < LONG_MS ? 'met' : 'MISSED'}); Long Tasks API (wall time): ${wallLong.length} over 50 ms` +
        (wallLong.length ? ` (longest ${Math.max(...wallLong).toFixed(0)} ms)` : ''),
    );
    // Every column wrote its tokens (or stopped at an end token): the page really was busy.
    for (const n of tokens) expect(n).toBeGreaterThan(NEW_TOKENS / 4);
    expect(cpu[0], lastTrace).toBeLessThan(FREEZE_MS);
  });

  it('shows the floor ratio and the bandwidth ceiling in the latency panel, and explains a bad bandwidth', async () => {
    await page.locator('#bandwidth').fill('abc');
    await page.locator('#bandwidth').dispatchEvent('change');
    await expect
      .poll(() => page.locator('.summary [role="alert"]').first().textContent())
      .toContain('Memory bandwidth must be a number of GB/s');
    await page.locator('#bandwidth').fill('10');
    await page.locator('#bandwidth').dispatchEvent('change');
    await expect.poll(() => page.locator('.summary [role="alert"]').count()).toBe(0);

    await page.locator('#measure-floor').click();
    await page.locator('#measure-floor').waitFor({ timeout: 180_000 }); // back once every column is measured
    const rows = await page.evaluate(() =>
      window.quantlab!.playground.columns.map((c) => ({
        stem: c.variant.stem,
        label: c.variant.label,
        floor: c.floor,
        error: c.floorError,
      })),
    );
    const lines: string[] = [];
    for (const r of rows) {
      expect(r.error).toBeNull();
      expect(r.floor!.decodeTokensPerS).toBeGreaterThan(0);
      expect(r.floor!.floorDecodeTokensPerS).toBeGreaterThan(0);
      const row = page.locator(`#latency tr[data-label="${r.label}"]`);
      // The ratio shown is playground / floor, to 2 decimals.
      expect(await row.locator('[data-k="ratio"]').textContent()).toBe(
        (r.floor!.decodeTokensPerS / r.floor!.floorDecodeTokensPerS).toFixed(2),
      );
      // Ceiling: 10 GB/s over the bytes of the file the column loaded (its size as the server reports it).
      const res = await fetch(`${site.server.url}models/quantlab-tiny/onnx/${r.stem}.onnx`, { method: 'HEAD' });
      const bytes = Number(res.headers.get('content-length'));
      const ceiling = 10e9 / bytes;
      expect(Number(await row.locator('[data-k="ceiling"]').textContent())).toBeCloseTo(ceiling, ceiling < 100 ? 1 : 0);
      lines.push(
        `${r.label}: ${r.floor!.decodeTokensPerS.toFixed(0)} / ${r.floor!.floorDecodeTokensPerS.toFixed(0)} tok/s = ${(r.floor!.decodeTokensPerS / r.floor!.floorDecodeTokensPerS).toFixed(2)}`,
      );
    }
    console.log(`[latency panel] playground / floor (greedy, one column at a time, same session): ${lines.join('; ')}`);
  });
});

// SensitivityView (src/state/sensitivity.svelte.ts) over a real Library and a fake builder: a
// measurement sends the dialog's settings and widths with the calibration text; the budget plans
// from a report of these settings at two or more widths without measuring again, measures at
// 2, 4, 8 first otherwise, writes one q4 file with the plan (named as the CLI names it), and a
// budget out of range sends nothing.
import { describe, expect, it, vi } from 'vitest';
import type { Remote } from 'comlink';
import type { BuilderApi, SensitivityRequest } from '../../workers/protocol';
import type { WorkerHandle } from '../../src/browser/workers';
import { userModelEntry } from '../../src/lib/catalog';
import type { SensitivityReport } from '../../src/lib/quantize/sensitivity';
import { variantFileName } from '../../src/lib/variants/table';
import { CalibrationChoice } from '../../src/state/calibration.svelte.ts';
import { Library } from '../../src/state/library.svelte.ts';
import { SensitivityView } from '../../src/state/sensitivity.svelte.ts';

const INFO = { id: 'm', name: 'm', source: 'test', files: [{ path: 'onnx/model.onnx', bytes: 100 }] };

/** Two weights of [64 x 32]; the first is 10x as sensitive as the second at every width. */
function reportFor(req: SensitivityRequest): SensitivityReport {
  const entries = ['a', 'b'].flatMap((w, i) =>
    req.bits.map((bits) => ({
      weight: w,
      layer: 0,
      module: w,
      K: 64,
      N: 32,
      bits,
      method: req.method,
      bytes: 32 * 2 * ((32 * (bits === 3 ? 4 : bits)) / 8 + 4),
      bits_per_weight: 0,
      kld_mean: (i === 0 ? 10 : 1) / 2 ** bits,
      kld_p99: 0,
      same_top_pct: 100,
      ppl: 1,
    })),
  );
  return {
    method: req.method,
    bits: req.bits,
    blockSize: req.blockSize ?? 32,
    symmetric: req.symmetric ?? true,
    scaleType: 'float32',
    keepLmHead: true,
    ctx: 128,
    tokens: 256,
    windows: 2,
    positions: 126,
    ppl_base: 2,
    entries,
    seconds: 1,
  };
}

function setup() {
  const api = {
    list: vi.fn(async () => [INFO]),
    sensitivity: vi.fn(async (_id: string, req: SensitivityRequest) => reportFor(req)),
    quantize: vi.fn(async () => INFO),
    cancel: async () => {},
  };
  const handle = { api: api as unknown as Remote<BuilderApi>, terminate: () => {}, onCrash: () => () => {} };
  const library = new Library(handle as WorkerHandle<BuilderApi>);
  const calibration = new CalibrationChoice(() => 'the lab text');
  const form = { method: 'rtn' as const, blockSize: '', asym: false, name: '' };
  const view = new SensitivityView(library, userModelEntry(INFO), calibration, () => form);
  return { api, library, view, form };
}

describe('SensitivityView', () => {
  it('measures the dialog settings at the chosen widths and keeps the report by model', async () => {
    const { api, view } = setup();
    view.widths = [4, 2];
    const r = await view.measure();
    expect(api.sensitivity).toHaveBeenCalledTimes(1);
    const [id, req, calib] = api.sensitivity.mock.calls[0] as unknown as [string, SensitivityRequest, { name: string }];
    expect(id).toBe('m');
    expect(req).toEqual({ method: 'rtn', bits: [2, 4], blockSize: 32, symmetric: true });
    expect(calib).toMatchObject({ name: 'built-in calibration sample', tokens: 512, window: 128 });
    expect(view.last?.report).toBe(r);
    expect(view.last?.calibration).toBe('built-in calibration sample');
    expect(view.shownBits).toBe(2);
    expect(JSON.parse(view.exportFile('json')!.text)).toMatchObject({
      model: 'm',
      calib_file: 'built-in calibration sample',
    });
  });

  it('plans a budget from the report in hand, and writes one q4 file with the plan', async () => {
    const { api, view } = setup();
    view.widths = [2, 4];
    await view.measure();
    // Widths 2 and 4 at block 32: 3 to 5 bits per weight; 4 affords one weight at 4 bits: the sensitive one.
    view.budget = '4';
    expect(view.budgetCheck).toMatchObject({ value: 4, min: 3, max: 5, message: '' });
    await view.writeMixed();
    expect(api.sensitivity).toHaveBeenCalledTimes(1);
    expect(api.quantize).toHaveBeenCalledTimes(1);
    const [, dtypes, options] = api.quantize.mock.calls[0] as unknown as [string, string[], { plan: unknown }];
    expect(dtypes).toEqual(['q4']);
    const plan = [
      { weight: 'a', bits: 4, method: 'rtn' },
      { weight: 'b', bits: 2, method: 'rtn' },
    ];
    expect(options).toEqual({ plan });
    expect(variantFileName({ dtype: 'q4', ...options } as never)).toMatch(/^model_q4_mix/);
  });

  it('measures at 2, 4, 8 first when the report cannot plan, and sends nothing for a budget out of range', async () => {
    const { api, view, form } = setup();
    await view.measure(); // one width: cannot plan
    view.budget = '2.9';
    expect(view.budgetCheck.message).toMatch(/below the smallest width: every weight at 2 bits takes 3\.000/);
    expect(await view.writeMixed()).toBeNull();
    expect(api.sensitivity).toHaveBeenCalledTimes(1);
    view.budget = '9.5';
    expect(view.budgetCheck.message).toMatch(/above the largest width: every weight at 8 bits takes 9\.000/);
    view.budget = '6';
    form.blockSize = '';
    await view.writeMixed();
    expect(api.sensitivity).toHaveBeenCalledTimes(2);
    expect((api.sensitivity.mock.calls[1] as unknown as [string, SensitivityRequest])[1].bits).toEqual([2, 4, 8]);
    expect(api.quantize).toHaveBeenCalledTimes(1);
  });
});

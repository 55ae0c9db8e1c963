// The load gate: first come, first served, never more than the limit at once; a place released
// before its turn leaves the queue.
import { describe, expect, it } from 'vitest';
import { LoadGate, parallelLoads } from '../../src/lib/page/load-gate';

const flush = () => new Promise((r) => setTimeout(r, 0));

describe('LoadGate', () => {
  it('lets `limit` loads in at once and the next in order as each ends', async () => {
    const gate = new LoadGate(() => 2);
    const order: number[] = [];
    const slots = [0, 1, 2, 3].map((i) => {
      const s = gate.acquire();
      void s.ready.then((ok) => ok && order.push(i));
      return s;
    });
    await flush();
    expect(order).toEqual([0, 1]);
    expect(gate.active).toBe(2);
    expect(gate.waiting).toBe(2);
    slots[1].release();
    slots[1].release(); // twice: no effect
    await flush();
    expect(order).toEqual([0, 1, 2]);
    expect(gate.active).toBe(2);
    slots[0].release();
    await flush();
    expect(order).toEqual([0, 1, 2, 3]);
    expect(gate.waiting).toBe(0);
  });

  it('a place released while waiting settles false and frees its turn for the next', async () => {
    const gate = new LoadGate(() => 1);
    const a = gate.acquire();
    const b = gate.acquire();
    const c = gate.acquire();
    b.release();
    expect(await b.ready).toBe(false);
    expect(gate.waiting).toBe(1);
    a.release();
    expect(await c.ready).toBe(true);
    expect(gate.active).toBe(1);
  });
});

describe('parallelLoads', () => {
  it('is one per four cores, at least one', () => {
    expect(parallelLoads(1)).toBe(1);
    expect(parallelLoads(2)).toBe(1);
    expect(parallelLoads(7)).toBe(1);
    expect(parallelLoads(8)).toBe(2);
    expect(parallelLoads(16)).toBe(4);
    expect(parallelLoads(NaN)).toBe(1);
  });
});

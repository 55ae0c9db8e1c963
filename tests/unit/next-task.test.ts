// The worker's wait between tokens: atMostEvery (taken at most once per interval) and whenNotified
// (taken only when the page has flagged a message).
import { describe, expect, it } from 'vitest';
import { atMostEvery, whenNotified } from '../../src/lib/runner/next-task';

describe('atMostEvery', () => {
  it('waits only when the interval has passed since the last wait', async () => {
    let t = 0;
    let waits = 0;
    const between = atMostEvery(
      8,
      async () => void waits++,
      () => t,
    );
    for (const at of [1, 5, 7.9, 8, 9, 15, 16, 40]) {
      t = at;
      await between();
    }
    // Waits at 8 (8 since start), 16 (8 since 8) and 40; none at 1, 5, 7.9, 9 or 15.
    expect(waits).toBe(3);
  });
});

describe('whenNotified', () => {
  it('waits once per flag the page sets, and clears it', async () => {
    const flag = new Int32Array(new SharedArrayBuffer(4));
    let waits = 0;
    const between = whenNotified(flag, async () => void waits++);
    for (let k = 0; k < 5; k++) await between();
    expect(waits).toBe(0);
    // A message posted: the next token waits (and clears the flag), the ones after do not.
    Atomics.store(flag, 0, 1);
    await between();
    expect(waits).toBe(1);
    expect(Atomics.load(flag, 0)).toBe(0);
    await between();
    expect(waits).toBe(1);
    // Two messages before the next token: one wait lets both in.
    Atomics.store(flag, 0, 1);
    Atomics.store(flag, 0, 1);
    await between();
    await between();
    expect(waits).toBe(2);
  });
});

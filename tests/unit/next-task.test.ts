// The worker's wait between tokens: atMostEvery (taken at most once per interval) and
// whileMessagesWaiting (taken only while a message the page posted has not arrived).
import { describe, expect, it } from 'vitest';
import { atMostEvery, whileMessagesWaiting } from '../../src/lib/runner/next-task';

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

describe('whileMessagesWaiting', () => {
  it('waits while the page has posted more messages than the worker has received, and only then', async () => {
    const posted = new Int32Array(new SharedArrayBuffer(4));
    let received = 0;
    let waits = 0;
    const between = whileMessagesWaiting(
      posted,
      () => received,
      async () => void waits++,
    );
    for (let k = 0; k < 5; k++) await between();
    expect(waits).toBe(0);
    // A message posted and still on its way: every token waits until it has arrived.
    Atomics.add(posted, 0, 1);
    await between();
    await between();
    expect(waits).toBe(2);
    received++;
    await between();
    expect(waits).toBe(2);
    // Two more, delivered together: one wait.
    Atomics.add(posted, 0, 2);
    await between();
    received += 2;
    await between();
    expect(waits).toBe(3);
  });

  it("agrees after the page's int32 count wraps around", async () => {
    const posted = new Int32Array(new SharedArrayBuffer(4));
    posted[0] = 2 ** 31 - 1;
    let received = 2 ** 31 - 1;
    let waits = 0;
    const between = whileMessagesWaiting(
      posted,
      () => received,
      async () => void waits++,
    );
    Atomics.add(posted, 0, 1); // wraps to -2^31
    await between();
    expect(waits).toBe(1);
    received++; // 2^31 as a number, -2^31 as an int32
    await between();
    expect(waits).toBe(1);
  });
});

// How many columns build their sessions at once. Each load compiles ONNX Runtime's 27 MB WASM module
// in its worker and builds a session, which takes every core for a while; six 135M-parameter loads
// at once on two cores took 70 to 194 s each and two made no progress for 120 s (bench/memory.bench.ts
// --columns 6), while one at a time each gets the cores. Columns past the limit wait their turn.

/** Loads at once for this many cores: one per four cores, at least one. */
export function parallelLoads(cores: number): number {
  return Math.max(1, Math.floor((Number.isFinite(cores) ? cores : 1) / 4));
}

/** One place in the gate: `ready` settles true once it may load, false if it was released first. */
export interface GateSlot {
  ready: Promise<boolean>;
  /** Frees the place (or leaves the queue); calling it again does nothing. */
  release(): void;
}

/** A first-come, first-served limit on loads in flight. */
export class LoadGate {
  #active = 0;
  #queue: { grant(ok: boolean): void }[] = [];

  constructor(private readonly limit: () => number) {}

  /** Loads waiting for a place. */
  get waiting(): number {
    return this.#queue.length;
  }

  /** Loads holding a place. */
  get active(): number {
    return this.#active;
  }

  acquire(): GateSlot {
    let state: 'queued' | 'active' | 'done' = 'queued';
    let grant!: (ok: boolean) => void;
    const ready = new Promise<boolean>((resolve) => (grant = resolve));
    const entry = {
      grant: (ok: boolean) => {
        if (ok) {
          state = 'active';
          this.#active++;
        }
        grant(ok);
      },
    };
    this.#queue.push(entry);
    this.#pump();
    return {
      ready,
      release: () => {
        if (state === 'done') return;
        if (state === 'active') {
          this.#active--;
        } else {
          this.#queue.splice(this.#queue.indexOf(entry), 1);
          grant(false);
        }
        state = 'done';
        this.#pump();
      },
    };
  }

  #pump(): void {
    while (this.#queue.length && this.#active < Math.max(1, this.limit())) this.#queue.shift()!.grant(true);
  }
}

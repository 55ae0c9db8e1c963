// Running weight-error statistics: the RMS and max absolute error of dequantized vs original
// weights, which every quantizer reports per tensor.

/** Accumulates the error of each dequantized weight against its original value. */
export class ErrorStats {
  count = 0;
  sumSq = 0;
  max = 0;

  add(original: number, dequantized: number): void {
    const d = dequantized - original;
    this.sumSq += d * d;
    const a = d < 0 ? -d : d;
    if (a > this.max) this.max = a;
    this.count++;
  }

  /** Adds a batch accumulated in local variables by a hot loop. */
  addBatch(count: number, sumSq: number, max: number): void {
    this.count += count;
    this.sumSq += sumSq;
    if (max > this.max) this.max = max;
  }

  get rms(): number {
    return this.count === 0 ? 0 : Math.sqrt(this.sumSq / this.count);
  }
}

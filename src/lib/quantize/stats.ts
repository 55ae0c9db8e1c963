// Running weight-error statistics (RMS and max absolute error of dequantized vs original
// weights), and the small matrix helpers every quantizer shares.

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

/** Transposes a row-major [rows, cols] matrix into a new [cols, rows] array. */
export function transposeMatrix(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  // Tiled so both the reads and the writes stay within a few cache lines.
  const T = 32;
  for (let r0 = 0; r0 < rows; r0 += T) {
    const r1 = Math.min(rows, r0 + T);
    for (let c0 = 0; c0 < cols; c0 += T) {
      const c1 = Math.min(cols, c0 + T);
      for (let r = r0; r < r1; r++) {
        const base = r * cols;
        for (let c = c0; c < c1; c++) out[c * rows + r] = data[base + c];
      }
    }
  }
  return out;
}

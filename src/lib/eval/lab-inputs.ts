// The quality lab's form fields as text, turned into the engine's options with a message naming
// the field and the value for anything that is not a usable number (the engine then checks ranges).

import { QuantlabError } from '../errors';
import { checkSweepGrid, type SweepGrid } from './sweep';

const bad = (msg: string, detail?: string) => new QuantlabError('bad-argument', msg, detail);

/** "0, 0.5,1" -> [0, 0.5, 1]; "off" counts as 0 for top-k. Throws naming the field and the part. */
export function parseNumberList(text: string, field: string, example: string): number[] {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.every((p) => p === '')) throw bad(`${field}: give at least one value`, `For example ${example}.`);
  return parts.map((p) => {
    const n = p.toLowerCase() === 'off' && field === 'top-k' ? 0 : Number(p);
    if (p === '' || !Number.isFinite(n))
      throw bad(`${field}: "${p}" is not a number`, `Give numbers separated by commas, for example ${example}.`);
    return n;
  });
}

/** A whole number >= min from a field. */
export function parseWhole(text: string, field: string, min: number): number {
  const n = Number(text.trim());
  if (text.trim() === '' || !Number.isInteger(n) || n < min)
    throw bad(`${field} must be a whole number >= ${min} (got "${text}")`);
  return n;
}

/** The sweep form's fields. */
export interface GridFields {
  prompt: string;
  temperatures: string;
  topKs: string;
  topPs: string;
  maxNewTokens: string;
  seeds: string;
}

/** Form fields -> a checked SweepGrid (seeds 0 .. n-1, shared by every precision). */
export function gridFromFields(f: GridFields): SweepGrid {
  const nSeeds = parseWhole(f.seeds, 'Seeds per cell', 1);
  const grid: SweepGrid = {
    prompt: f.prompt,
    temperatures: parseNumberList(f.temperatures, 'temperatures', '0, 0.5, 0.8, 1'),
    topKs: parseNumberList(f.topKs, 'top-k', '1, 5, 20, 0 (0 = off)'),
    topPs: parseNumberList(f.topPs, 'top-p', '0.9, 1 (1 = off)'),
    maxNewTokens: parseNumberList(f.maxNewTokens, 'max new tokens', '16, 32'),
    seeds: Array.from({ length: nSeeds }, (_, i) => i),
  };
  checkSweepGrid(grid);
  return grid;
}

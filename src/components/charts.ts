// chart.js set up once for the app: only the pieces its charts use (the lab adds bands, scatter,
// log axes and titles), so the bundle stays small. A variant's colour comes from
// lib/page/colours.ts (the same in its column header and every chart); PALETTE is for series
// that are not variants.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  LogarithmicScale,
  PointElement,
  ScatterController,
  Title,
  Tooltip,
} from 'chart.js';
import { FP32_COLOUR, OTHER_COLOURS } from '../lib/page/colours';

// chart.js tree-shakes: each piece is named once to import it and once to register it.
Chart.register(
  BarController,
  BarElement,
  CategoryScale,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  LogarithmicScale,
  PointElement,
  ScatterController,
  Title,
  Tooltip,
);
Chart.defaults.font.family = 'system-ui, sans-serif';
Chart.defaults.animation = false;

/** A colour token of src/styles/tokens.css as the page resolves it now (light or dark). */
export function token(name: string, fallback = '#888'): string {
  if (typeof document === 'undefined') return fallback;
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

// Text and grid lines follow the theme: set from the tokens now and again when the scheme changes.
// chart.js copies the defaults' colours into each chart's own scale options when it first lays the
// chart out (mergeIf of defaults.scale), so new defaults alone never reach a chart already drawn:
// the old theme's colours are also swapped for the new ones in every chart's options, then it redraws.
let current = { text: '', grid: '' };
function applyTheme(): void {
  const next = { text: token('--chart-text'), grid: token('--chart-grid') };
  Chart.defaults.color = next.text;
  Chart.defaults.borderColor = next.grid;
  const swap = new Map([
    [current.text, next.text],
    [current.grid, next.grid],
  ]);
  current = next;
  for (const c of Object.values(Chart.instances)) {
    recolour(c.config.options, swap, 0);
    c.update('none');
  }
}

/** Replaces, in a chart's options (plain objects only, not its data), colours of the old theme with the new one's. */
function recolour(o: unknown, swap: Map<string, string>, depth: number): void {
  if (depth > 6 || typeof o !== 'object' || o === null || Array.isArray(o)) return;
  const rec = o as Record<string, unknown>;
  for (const k of Object.keys(rec)) {
    const v = rec[k];
    if (typeof v === 'string' && swap.has(v)) rec[k] = swap.get(v);
    else if (typeof v === 'object') recolour(v, swap, depth + 1);
  }
}
applyTheme();
globalThis.matchMedia?.('(prefers-color-scheme: dark)').addEventListener('change', applyTheme);

export { Chart };

/** Colours for series that are not variants (a variant's colour is variantColours'). */
export const PALETTE: readonly string[] = [FP32_COLOUR, ...OTHER_COLOURS];

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

// Text and grid lines follow the theme: set from the tokens now and again when the scheme changes,
// then every chart redraws (chart.js resolves its defaults at each update).
function applyTheme(): void {
  Chart.defaults.color = token('--chart-text');
  Chart.defaults.borderColor = token('--chart-grid');
  for (const c of Object.values(Chart.instances)) c.update('none');
}
applyTheme();
globalThis.matchMedia?.('(prefers-color-scheme: dark)').addEventListener('change', applyTheme);

export { Chart };

/** Colours for series that are not variants (a variant's colour is variantColours'). */
export const PALETTE: readonly string[] = [FP32_COLOUR, ...OTHER_COLOURS];

// Saving lab results as files: text (CSV, JSON) through a Blob URL and a chart's canvas as PNG,
// both through a temporary <a download> so the browser's ordinary download flow runs.
import type { ExportKind, Lab } from '../../state/lab.svelte.ts';
import { token } from '../charts';

function click(href: string, name: string): void {
  const a = document.createElement('a');
  a.href = href;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
}

/** Downloads `text` as a file. */
export function downloadText(text: string, name: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  click(url, name);
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Downloads a canvas as PNG, on the page's surface colour (charts draw on transparent, in the theme's text colour). */
export function downloadPng(canvas: HTMLCanvasElement, name: string): void {
  const out = document.createElement('canvas');
  out.width = canvas.width;
  out.height = canvas.height;
  const g = out.getContext('2d')!;
  g.fillStyle = token('--surface', '#fff');
  g.fillRect(0, 0, out.width, out.height);
  g.drawImage(canvas, 0, 0);
  click(out.toDataURL('image/png'), name);
}

/** A hex colour with an alpha, for bands: ('#2f6fde', 0.2) -> 'rgba(47,111,222,0.2)'. */
export function alpha(hex: string, a: number): string {
  const n = Number.parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${a})`;
}

/** A file name part from a label: letters, digits, dot, dash. */
export const fileSafe = (s: string) => s.replace(/[^A-Za-z0-9.-]+/g, '-').replace(/^-|-$/g, '') || 'model';

/** Downloads one of the lab's exports (nothing when that result does not exist yet). */
export function saveExport(lab: Lab, kind: ExportKind): void {
  const f = lab.exportFile(kind);
  if (f) downloadText(f.text, f.name, f.type);
}

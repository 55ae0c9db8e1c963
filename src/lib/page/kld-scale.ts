// The colour scale of the token view: each token's KL divergence from the baseline falls in one
// of a few bins, a decade apart, coloured along a sequential ColorBrewer ramp (YlOrRd: ordered in
// lightness, readable for colour-blind eyes, dark text legible on every step).

/** One bin: KLD values in [from, to) get `colour`; the first bin (near zero) is not coloured. */
export interface KldBin {
  from: number;
  to: number;
  colour: string;
  label: string;
}

export const KLD_BINS: readonly KldBin[] = [
  { from: 0, to: 1e-3, colour: 'transparent', label: '< 0.001' },
  { from: 1e-3, to: 1e-2, colour: '#ffeda0', label: '0.001–0.01' },
  { from: 1e-2, to: 0.1, colour: '#fed976', label: '0.01–0.1' },
  { from: 0.1, to: 0.5, colour: '#feb24c', label: '0.1–0.5' },
  { from: 0.5, to: 1, colour: '#fd8d3c', label: '0.5–1' },
  { from: 1, to: Infinity, colour: '#fc4e2a', label: '≥ 1' },
];

/** The bin index of a KLD value (nats); NaN or negative values fall in the first bin. */
export function kldBin(kld: number): number {
  for (let i = KLD_BINS.length - 1; i > 0; i--) if (kld >= KLD_BINS[i].from) return i;
  return 0;
}

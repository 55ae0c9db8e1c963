// The colour scheme as reactive state, for what draws on a canvas by hand (the heatmap, chart
// labels): reading `theme.dark` in an effect redraws it when the scheme changes.
const query = globalThis.matchMedia?.('(prefers-color-scheme: dark)');

export const theme = $state({ dark: query?.matches ?? false });

query?.addEventListener('change', (e) => (theme.dark = e.matches));

// Svelte compiler options shared by the Vite plugin and svelte-check: TypeScript in components
// through Vite, and runes mode everywhere (no legacy stores or `export let`).
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

export default {
  preprocess: vitePreprocess(),
  compilerOptions: { runes: true },
};

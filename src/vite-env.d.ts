// Ambient types for Vite (import.meta.env, ?url imports) and *.svelte modules, so `tsc` can
// check the TypeScript files that import components.
/// <reference types="vite/client" />
/// <reference types="svelte" />

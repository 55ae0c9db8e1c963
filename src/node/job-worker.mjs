// Entry of a job pool worker: the TypeScript worker through tsx (a worker does not inherit the
// loader bin/quantlab.mjs registered in the main thread).
import { register } from 'tsx/esm/api';

register();
await import('./job-worker.ts');

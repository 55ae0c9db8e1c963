// Imported first by main.ts, so that it runs before the rest of the page's modules are evaluated
// (the app, its components, chart.js; about 0.2 s of main-thread work): the first column's worker
// starts loading its scripts (transformers.js and ONNX Runtime's JS) before them, not after (in a
// trial the worker was created about 70 ms sooner; time to first token).
import { prestartColumnWorker } from './workers';

prestartColumnWorker();

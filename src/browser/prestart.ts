// Imported first by main.ts, so that it runs before the rest of the page's modules are evaluated
// (the app, its components, chart.js): the first column's worker starts loading its scripts
// (transformers.js and ONNX Runtime's JS) about 0.2 s sooner (time to first token).
import { prestartColumnWorker } from './workers';

prestartColumnWorker();

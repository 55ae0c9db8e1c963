// The trace reader lives in src/node/trace.ts (the page quantize benchmark uses it too); the
// responsiveness and lab-bounds tests import it from here.
export { lastTrace, mainThreadTasks } from '../../src/node/trace';

// transformers.js settings for Node: local folders by path, the Hub only when allowed, and
// quiet ONNX Runtime logs.

import { env } from '@huggingface/transformers';

/** Local model folders load by absolute path; `allowRemote` enables Hub ids (off in tests). */
export function configureNodeTransformers(opts: { allowRemote?: boolean } = {}): void {
  env.allowLocalModels = true;
  env.allowRemoteModels = opts.allowRemote ?? true;
  env.useFSCache = false;
}

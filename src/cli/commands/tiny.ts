// `quantlab tiny`: a deterministic random-weight model of any Llama shape, written as a
// transformers.js model folder.

import { QuantlabError } from '../../lib/errors';
import { DEFAULT_TINY_SHAPE, SMOLLM2_135M_SHAPE, type TinyShape } from '../../lib/model/tiny';
import { tinySource } from '../../lib/import/sources';
import { defineCommand } from '../command';
import { logger } from '../format';
import {
  EXTERNAL_DATA_FLAGS,
  EXTERNAL_DATA_HELP,
  GRAPH_FLAGS,
  GRAPH_HELP,
  externalDataOptions,
  writeSource,
} from '../model-folder';

const HELP = `quantlab tiny --out <dir> [options]
  --layers N --dim N --heads N --kv-heads N --hidden N --vocab N --max-positions N
  --seed N (default 0)  --untied (separate lm_head)  --qkv-bias (qwen2-style)
  --smollm2-135m        the SmolLM2-135M shape (30 layers, dim 576, 9/3 heads, vocab 49152)
  --overwrite           replace an existing output folder
${EXTERNAL_DATA_HELP}
${GRAPH_HELP}
  --quiet               no progress lines on stderr`;

const size = { type: 'int', min: 1 } as const;

export const tinyCommand = defineCommand({
  name: 'tiny',
  summary: 'Build a deterministic random-weight model of any Llama shape.',
  help: HELP,
  flags: {
    out: { type: 'string' },
    layers: size,
    dim: size,
    heads: size,
    'kv-heads': size,
    hidden: size,
    vocab: size,
    'max-positions': size,
    seed: { type: 'int', min: 0, default: 0 },
    untied: { type: 'boolean' },
    'qkv-bias': { type: 'boolean' },
    'smollm2-135m': { type: 'boolean' },
    overwrite: { type: 'boolean' },
    quiet: { type: 'boolean' },
    ...EXTERNAL_DATA_FLAGS,
    ...GRAPH_FLAGS,
  },
  async run({ values: v }) {
    if (!v.out) throw new QuantlabError('bad-argument', 'tiny needs --out <dir>', HELP);
    const base = v['smollm2-135m'] ? SMOLLM2_135M_SHAPE : DEFAULT_TINY_SHAPE;
    const shape: TinyShape = {
      layers: v.layers ?? base.layers,
      dim: v.dim ?? base.dim,
      heads: v.heads ?? base.heads,
      kvHeads: v['kv-heads'] ?? base.kvHeads,
      hidden: v.hidden ?? base.hidden,
      vocab: v.vocab ?? base.vocab,
      maxPositions: v['max-positions'] ?? base.maxPositions,
      tied: v.untied ? false : base.tied,
      qkvBias: v['qkv-bias'],
    };
    if (shape.dim % shape.heads !== 0)
      throw new QuantlabError('bad-argument', `--dim ${shape.dim} is not a multiple of --heads ${shape.heads}`);
    const log = logger(v.quiet);
    const t0 = performance.now();
    const bytes = await writeSource(
      tinySource(shape, v.seed),
      v.out,
      v.overwrite,
      log,
      externalDataOptions(v),
      v.fused ? 'fused' : 'unfused',
    );
    log(`Wrote ${v.out} (${(bytes / 1e6).toFixed(2)} MB) in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    return 0;
  },
});

// Turns each kind of user model (llama2.c checkpoint + tokenizer, Hugging Face folder, tiny
// random model) into one DecoderSource, the input of buildModelFolder.

import type { DecoderSource } from '../model/folder';
import { tinyConfig, tinyTokenizerBin, tinyWeights, type TinyShape } from '../model/tiny';
import { importHfFolder, type FolderReader, type HfImportOptions } from './hf';
import { importLlama2cCheckpoint } from './llama2c';
import { llama2cTokenizerFiles, parseLlama2cTokenizer } from './llama2c-tokenizer';

/** A llama2.c checkpoint with its tokenizer .bin (sizes checked against each other). */
export function llama2cSource(
  checkpoint: Uint8Array,
  tokenizer: Uint8Array,
  names = { checkpoint: 'checkpoint', tokenizer: 'tokenizer' },
): DecoderSource {
  const { config, weights } = importLlama2cCheckpoint(checkpoint, names.checkpoint);
  const vocab = parseLlama2cTokenizer(tokenizer, config.vocabSize, names.tokenizer);
  const { tokenizerJson, tokenizerConfig, warnings } = llama2cTokenizerFiles(vocab, {
    bosTokenId: 1,
    eosTokenId: 2,
    unkTokenId: 0,
    maxLength: config.maxPositionEmbeddings,
  });
  return { config, weights, tokenizerJson, tokenizerConfig, warnings };
}

/** A Hugging Face folder read through any reader (Node fs, browser File objects). */
export async function hfSource(read: FolderReader, opts?: HfImportOptions): Promise<DecoderSource> {
  const r = await importHfFolder(read, opts);
  return {
    config: r.config,
    weights: r.weights,
    tokenizerJson: r.tokenizerJson,
    tokenizerConfig: r.tokenizerConfig,
    generationConfig: r.generationConfig,
  };
}

/** A deterministic random-weight model with a synthetic llama2.c-style tokenizer. */
export function tinySource(shape: TinyShape, seed = 0): DecoderSource {
  const config = tinyConfig(shape);
  const weights = tinyWeights(config, seed);
  const vocab = parseLlama2cTokenizer(tinyTokenizerBin(shape.vocab), shape.vocab);
  const { tokenizerJson, tokenizerConfig } = llama2cTokenizerFiles(vocab, {
    bosTokenId: 1,
    eosTokenId: 2,
    unkTokenId: 0,
    maxLength: config.maxPositionEmbeddings,
  });
  return { config, weights, tokenizerJson, tokenizerConfig };
}

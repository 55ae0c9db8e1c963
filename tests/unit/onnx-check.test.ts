// The door check on imported ONNX files: text, a cut-short file, a valid ONNX graph that is not a
// decoder, and a real decoder graph (built by llama-graph.ts, quantized by the quantizer).
import { describe, expect, it } from 'vitest';
import { QuantlabError } from '../../src/lib/errors';
import { buildDecoderGraph } from '../../src/lib/model/llama-graph';
import { tinyConfig, tinyWeights } from '../../src/lib/model/tiny';
import { checkDecoderModel } from '../../src/lib/onnx/check';
import { checkDecoderSession } from '../../src/lib/onnx/session';
import { DataType, encodeModel, makeGraph, makeModel, makeNode, valueInfo } from '../../src/lib/onnx/proto';
import { quantizeVariants, expandRequests } from '../../src/lib/quantize/quantize-variants';

// A small decoder's shape (the same as llama-graph.test.ts's), spelled out so the file shows its fixture.
const config = tinyConfig({
  layers: 2,
  dim: 32,
  heads: 4,
  kvHeads: 2,
  hidden: 40,
  vocab: 300,
  maxPositions: 64,
  tied: true,
});
const good = encodeModel(buildDecoderGraph(config, tinyWeights(config, 1)));

function failure(bytes: Uint8Array, name = 'onnx/model.onnx'): QuantlabError {
  try {
    checkDecoderModel(bytes, name);
  } catch (err) {
    expect(err).toBeInstanceOf(QuantlabError);
    return err as QuantlabError;
  }
  throw new Error('the check accepted the file');
}

/** No parser's internals in what the user reads. */
function expectPlainWords(e: QuantlabError): void {
  expect(e.message).not.toMatch(/wire type|premature|invalid|varint|offset \d|RangeError|Error:/i);
  expect(e.detail ?? '').not.toBe('');
}

describe('checkDecoderModel', () => {
  it('accepts the decoder graph the importer builds, and reports its KV cache layout', () => {
    expect(checkDecoderModel(good, 'onnx/model.onnx')).toEqual({
      numLayers: 2,
      numKvHeads: 2,
      headDim: 8,
      hasPositionIds: true,
    });
  });

  it('accepts a quantized variant of it', async () => {
    const q = await quantizeVariants(good, expandRequests(['q4'], {}), undefined, {});
    const bytes = q.files.get('onnx/model_q4.onnx')!;
    expect(checkDecoderModel(bytes, 'onnx/model_q4.onnx').numLayers).toBe(2);
  });

  it('refuses a plain text file, naming it, in words', () => {
    const e = failure(new TextEncoder().encode('this is not a model, just some text\n'), 'onnx/model.onnx');
    expect(e.code).toBe('bad-onnx');
    expect(e.message).toMatch(/^onnx\/model\.onnx is not a valid ONNX file/);
    expect(e.message).toMatch(/another kind of file/);
    expectPlainWords(e);
  });

  it('refuses an empty file', () => {
    expect(failure(new Uint8Array(0)).message).toMatch(/onnx\/model\.onnx .* empty/);
  });

  it('refuses a cut-short file', () => {
    const e = failure(good.subarray(0, 1000), 'onnx/model_q8.onnx');
    expect(e.code).toBe('bad-onnx');
    expect(e.message).toMatch(/^onnx\/model_q8\.onnx is not a valid ONNX/);
    expectPlainWords(e);
  });

  it('refuses a valid ONNX graph that is not a decoder, saying what is missing', () => {
    const g = makeGraph({
      name: 'add',
      nodes: [makeNode('Add', ['a', 'b'], ['c'], 'add')],
      initializers: [],
      inputs: [valueInfo('a', DataType.FLOAT, [2]), valueInfo('b', DataType.FLOAT, [2])],
      outputs: [valueInfo('c', DataType.FLOAT, [2])],
    });
    const e = failure(encodeModel(makeModel({ graph: g, opsets: { '': 17 } })), 'onnx/model.onnx');
    expect(e.code).toBe('bad-onnx');
    expect(e.message).toBe(
      'onnx/model.onnx is not a decoder model QuantLab can run: its graph has no input_ids input (its inputs are: a, b).',
    );
    expectPlainWords(e);
  });

  it('refuses a decoder without a KV cache, or with a cache of unfixed head sizes', () => {
    const io = (names: string[], kvDims: (number | string)[]) =>
      names.map((n) =>
        valueInfo(
          n,
          n.includes('key') || n.includes('value') ? DataType.FLOAT : DataType.INT64,
          n.startsWith('p') ? kvDims : [1, 1],
        ),
      );
    const model = (inputs: string[], outputs: string[], kvDims: (number | string)[] = [1, 2, 'p', 8]) =>
      encodeModel(
        makeModel({
          graph: makeGraph({
            name: 'g',
            nodes: [makeNode('Identity', ['input_ids'], ['logits'], 'id')],
            initializers: [],
            inputs: io(inputs, kvDims),
            outputs: io(outputs, kvDims),
          }),
          opsets: { '': 17 },
        }),
      );
    expect(failure(model(['input_ids', 'attention_mask'], ['logits'])).message).toMatch(
      /no past_key_values\.<layer>\.key \/ \.value inputs/,
    );
    const kvIn = ['past_key_values.0.key', 'past_key_values.0.value'];
    expect(failure(model(['input_ids', 'attention_mask', ...kvIn], ['logits'])).message).toMatch(
      /no present\.<layer>\.key \/ \.value outputs/,
    );
    expect(
      failure(model(['input_ids', 'attention_mask', 'past_key_values.0.key'], ['logits', 'present.0.key'])).message,
    ).toMatch(/inputs have no past_key_values\.0\.value/);
    expect(
      failure(
        model(
          ['input_ids', 'attention_mask', ...kvIn],
          ['logits', 'present.0.key', 'present.0.value'],
          [1, 'h', 'p', 8],
        ),
      ).message,
    ).toMatch(/fixed kv_heads and head_dim/);
    expect(
      checkDecoderModel(
        model(['input_ids', 'attention_mask', ...kvIn], ['logits', 'present.0.key', 'present.0.value']),
        'x',
      ),
    ).toEqual({ numLayers: 1, numKvHeads: 2, headDim: 8, hasPositionIds: false });
  });
});

describe('checkDecoderSession', () => {
  // What a loaded session of the decoder above reports, written out from the graph's I/O.
  const inputMetadata = [0, 1].map((l) => ({
    name: `past_key_values.${l}.key`,
    type: 'float32',
    shape: ['batch', 2, 'past', 8],
  }));
  const good = {
    inputNames: [
      'input_ids',
      'attention_mask',
      'position_ids',
      ...[0, 1].flatMap((l) => [`past_key_values.${l}.key`, `past_key_values.${l}.value`]),
    ],
    outputNames: ['logits', ...[0, 1].flatMap((l) => [`present.${l}.key`, `present.${l}.value`])],
    inputMetadata,
  };

  it('accepts a decoder session and returns its KV cache layout', () => {
    expect(checkDecoderSession(good, 'onnx/model.onnx')).toEqual({
      numLayers: 2,
      numKvHeads: 2,
      headDim: 8,
      kvType: 'float32',
    });
  });

  it('refuses a session without logits, without input_ids, or without a KV cache, naming the file', () => {
    const noLogits = { ...good, outputNames: good.outputNames.filter((n) => n !== 'logits') };
    expect(() => checkDecoderSession(noLogits, 'onnx/model_q4.onnx')).toThrow(
      /onnx\/model_q4\.onnx is not a decoder model QuantLab can run: its graph has no logits output/,
    );
    const noIds = { ...good, inputNames: good.inputNames.filter((n) => n !== 'input_ids') };
    expect(() => checkDecoderSession(noIds, 'onnx/model.onnx')).toThrow(/has no input_ids input/);
    const noCache = { inputNames: ['input_ids', 'attention_mask'], outputNames: ['logits'], inputMetadata: [] };
    expect(() => checkDecoderSession(noCache, 'onnx/model.onnx')).toThrow(/it has no past_key_values/);
    const fewerPresents = { ...good, outputNames: good.outputNames.slice(0, 3) };
    expect(() => checkDecoderSession(fewerPresents, 'onnx/model.onnx')).toThrow(/KV cache of 2 layers but returns 1/);
  });
});

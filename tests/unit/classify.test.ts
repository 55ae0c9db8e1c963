import { describe, expect, it } from 'vitest';
import { classifyFiles } from '../../src/lib/import/classify';
import { QuantlabError } from '../../src/lib/errors';

const f = (path: string, size = 10) => ({ path, size });

describe('classifyFiles', () => {
  it('pairs a llama2.c checkpoint with its tokenizer by name, else by size', () => {
    const a = classifyFiles([f('tok512.bin', 6290), f('aidreams260K.bin', 932124)]);
    expect(a.kind).toBe('llama2c');
    if (a.kind === 'llama2c')
      expect([a.name, a.checkpoint.path, a.tokenizer.path]).toEqual(['aidreams260K', 'aidreams260K.bin', 'tok512.bin']);
    const b = classifyFiles([f('big.bin', 900), f('small.bin', 50)]);
    if (b.kind === 'llama2c') expect(b.tokenizer.path).toBe('small.bin');
  });

  it('recognises Hugging Face and transformers.js folders, relative to the picked folder', () => {
    const hf = classifyFiles([f('SmolLM2/config.json'), f('SmolLM2/model.safetensors'), f('SmolLM2/tokenizer.json')]);
    expect(hf.kind).toBe('hf');
    if (hf.kind === 'hf')
      expect([hf.name, [...hf.files.keys()].sort()]).toEqual([
        'SmolLM2',
        ['config.json', 'model.safetensors', 'tokenizer.json'],
      ]);
    const onnx = classifyFiles([f('m/config.json'), f('m/tokenizer.json'), f('m/onnx/model_q4.onnx')]);
    expect(onnx.kind).toBe('onnx');
  });

  it('explains what is missing', () => {
    expect(() => classifyFiles([f('model.bin')])).toThrow(/needs its tokenizer/);
    expect(() => classifyFiles([f('x/config.json'), f('x/tokenizer.json')])).toThrow(/no model\.safetensors/);
    expect(() => classifyFiles([f('notes.txt')])).toThrow(QuantlabError);
    expect(() => classifyFiles([])).toThrow(/No files/);
  });

  it('refuses a transformers.js folder without its tokenizer, or with an empty .onnx file, naming what is wrong', () => {
    expect(() => classifyFiles([f('m/config.json'), f('m/onnx/model.onnx')])).toThrow(/no tokenizer\.json/);
    expect(() =>
      classifyFiles([f('m/config.json'), f('m/tokenizer.json'), f('m/onnx/model.onnx'), f('m/onnx/model_q4.onnx', 0)]),
    ).toThrow(/^onnx\/model_q4\.onnx is empty$/);
  });
});

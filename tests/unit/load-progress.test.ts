// The load progress line: a fully read model file means the session is being built, not read.
import { describe, expect, it } from 'vitest';
import { loadStage } from '../../src/lib/page/load-progress';

describe('loadStage', () => {
  it('shows a file being read with its fraction', () => {
    expect(loadStage({ status: 'download', file: 'onnx/model.onnx', loaded: 25, total: 100 })).toEqual({
      message: 'Reading onnx/model.onnx',
      fraction: 0.25,
    });
    expect(loadStage({ status: 'download', file: 'tokenizer.json', loaded: 5, total: 0 })).toEqual({
      message: 'Reading tokenizer.json',
      fraction: null,
    });
  });

  it('says the session is being built once an ONNX file is read in full', () => {
    for (const file of ['onnx/model.onnx', 'onnx/model_q4.onnx', 'onnx/model.onnx_data']) {
      const s = loadStage({ status: 'download', file, loaded: 100, total: 100 })!;
      expect(s.message).toMatch(/^Creating the ONNX Runtime session/);
      expect(s.message).not.toMatch(/^Reading/);
      expect(s.fraction).toBeNull();
    }
  });

  it('keeps a read tokenizer file as read (the session comes later)', () => {
    expect(loadStage({ status: 'download', file: 'tokenizer.json', loaded: 9, total: 9 })).toEqual({
      message: 'Reading tokenizer.json',
      fraction: 1,
    });
  });

  it('keeps the session line while files the session does not need finish reading', () => {
    const session = loadStage({ status: 'download', file: 'onnx/model.onnx', loaded: 7, total: 7 })!;
    for (const file of ['generation_config.json', 'tokenizer_config.json'])
      expect(loadStage({ status: 'download', file, loaded: 3, total: 3 }, session)).toBeNull();
    // A weights chunk still being read is news: the session waits for it.
    expect(loadStage({ status: 'download', file: 'onnx/model.onnx_data_1', loaded: 1, total: 4 }, session)).toEqual({
      message: 'Reading onnx/model.onnx_data_1',
      fraction: 0.25,
    });
    expect(
      loadStage({ status: 'download', file: 'onnx/model.onnx_data_1', loaded: 4, total: 4 }, session)!.message,
    ).toMatch(/^Creating the ONNX Runtime session/);
    // Before the session line, small files show as read.
    const reading = { message: 'Reading onnx/model.onnx', fraction: 0.5 };
    expect(loadStage({ status: 'download', file: 'tokenizer.json', loaded: 9, total: 9 }, reading)!.message).toBe(
      'Reading tokenizer.json',
    );
  });

  it("passes the worker's own stage words on and ends with ready", () => {
    expect(loadStage({ status: 'init', message: 'Reading the files of model (wasm)' })).toEqual({
      message: 'Reading the files of model (wasm)',
      fraction: null,
    });
    expect(loadStage({ status: 'ready', loadMs: 12 })).toBeNull();
  });
});

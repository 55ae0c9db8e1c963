// The quantlab CLI: the installed bin end to end, and clear errors (with no output folder left
// behind) for bad input.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../helpers/cli';
import { CHECKPOINT, TOKENIZER, greedyReferences, readCheckpoint, readTokenizer } from '../helpers/aidreams';
import { REPO } from '../helpers/paths';
import { cleanupTempDirs, tempDir } from '../helpers/model-dirs';

const BIN = resolve(REPO, 'bin/quantlab.mjs');

const run = runCli;

afterEach(() => vi.restoreAllMocks());
afterAll(cleanupTempDirs);

describe('quantlab CLI', () => {
  it('imports aidreams260K and generates the reference continuation as JSON (through the bin)', () => {
    const out = join(tempDir(), 'aidreams');
    execFileSync('node', [BIN, 'import', CHECKPOINT, '--tokenizer', TOKENIZER, '--out', out, '--quiet']);
    for (const f of [
      'config.json',
      'generation_config.json',
      'tokenizer.json',
      'tokenizer_config.json',
      'onnx/model.onnx',
    ]) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    const ref = greedyReferences()[2];
    const stdout = execFileSync(
      'node',
      [
        BIN,
        'generate',
        out,
        '--dtype',
        'fp32',
        '--prompt',
        ref.prompt,
        '--max-new-tokens',
        String(ref.greedy_ids.length),
        '--temperature',
        '0',
        '--json',
      ],
      { encoding: 'utf8' },
    );
    const r = JSON.parse(stdout);
    expect(r.prompt_ids).toEqual(ref.prompt_ids);
    expect(r.ids).toEqual(ref.greedy_ids);
    expect(ref.prompt + r.text).toBe(ref.text);
    for (const k of ['load_ms', 'ttft_ms', 'decode_tokens_per_s']) expect(r.timings[k]).toBeGreaterThan(0);
  }, 60_000);

  it('builds a deterministic tiny model', async () => {
    const a = join(tempDir(), 'a');
    const b = join(tempDir(), 'b');
    const args = [
      '--layers',
      '2',
      '--dim',
      '32',
      '--heads',
      '4',
      '--kv-heads',
      '2',
      '--hidden',
      '48',
      '--vocab',
      '400',
      '--quiet',
    ];
    expect((await run(['tiny', '--out', a, ...args])).code).toBe(0);
    expect((await run(['tiny', '--out', b, ...args])).code).toBe(0);
    expect(readFileSync(join(a, 'onnx/model.onnx')).equals(readFileSync(join(b, 'onnx/model.onnx')))).toBe(true);
    const cfg = JSON.parse(readFileSync(join(a, 'config.json'), 'utf8'));
    expect([cfg.num_hidden_layers, cfg.hidden_size, cfg.num_key_value_heads, cfg.vocab_size]).toEqual([2, 32, 2, 400]);
  });

  describe('bad input: a clear message and no output folder', () => {
    const cases: { name: string; setup: (d: string) => string[]; message: RegExp }[] = [
      {
        name: 'truncated checkpoint',
        setup: (d) => {
          writeFileSync(join(d, 'trunc.bin'), readCheckpoint().subarray(0, 500_000));
          return [join(d, 'trunc.bin'), '--tokenizer', TOKENIZER];
        },
        message: /trunc\.bin is truncated: .* needs 932124 bytes, the file has 500000/,
      },
      {
        name: 'wrong header',
        setup: (d) => {
          writeFileSync(join(d, 'noise.bin'), new Uint8Array(4096).fill(0xff));
          return [join(d, 'noise.bin'), '--tokenizer', TOKENIZER];
        },
        message: /noise\.bin does not look like a llama2\.c checkpoint: header field dim = -1/,
      },
      {
        name: 'tokenizer whose size does not match the model',
        setup: (d) => {
          // Keep the header and the first 300 entries of the 512-entry tokenizer.
          const tok = readTokenizer();
          const v = new DataView(tok.buffer, tok.byteOffset);
          let off = 4;
          for (let i = 0; i < 300; i++) off += 8 + v.getInt32(off + 4, true);
          writeFileSync(join(d, 'tok300.bin'), tok.subarray(0, off));
          return [CHECKPOINT, '--tokenizer', join(d, 'tok300.bin')];
        },
        message: /tok300\.bin.*300.*512|512.*300/,
      },
      {
        name: 'checkpoint without --tokenizer',
        setup: () => [CHECKPOINT],
        message: /needs its tokenizer: add --tokenizer/,
      },
      {
        name: 'unsupported model_type',
        setup: (d) => {
          const hf = join(d, 'gpt2');
          mkdirSync(hf);
          writeFileSync(join(hf, 'config.json'), JSON.stringify({ model_type: 'gpt2', n_embd: 64 }));
          writeFileSync(join(hf, 'tokenizer.json'), '{}');
          return [hf];
        },
        message: /Unsupported model_type "gpt2"/,
      },
      {
        name: 'missing tensors',
        setup: (d) => {
          const hf = join(d, 'partial');
          mkdirSync(hf);
          writeFileSync(
            join(hf, 'config.json'),
            JSON.stringify({
              model_type: 'llama',
              vocab_size: 300,
              hidden_size: 32,
              intermediate_size: 48,
              num_hidden_layers: 1,
              num_attention_heads: 4,
              num_key_value_heads: 2,
              tie_word_embeddings: true,
            }),
          );
          writeFileSync(join(hf, 'tokenizer.json'), '{}');
          // Only the embedding: every layer tensor is missing.
          const header = JSON.stringify({
            'model.embed_tokens.weight': { dtype: 'F32', shape: [300, 32], data_offsets: [0, 300 * 32 * 4] },
          });
          const pad = ' '.repeat((8 - (header.length % 8)) % 8);
          const buf = Buffer.alloc(8 + header.length + pad.length + 300 * 32 * 4);
          buf.writeBigUInt64LE(BigInt(header.length + pad.length));
          buf.write(header + pad, 8);
          writeFileSync(join(hf, 'model.safetensors'), buf);
          return [hf];
        },
        message: /Missing tensors: model\.layers\.0\.input_layernorm\.weight/,
      },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const d = tempDir();
        const out = join(d, 'out');
        const r = await run(['import', ...c.setup(d), '--out', out, '--quiet']);
        expect(r.code).toBe(2);
        expect(r.err).toMatch(c.message);
        expect(existsSync(out)).toBe(false);
        expect(readdirSync(d).filter((f) => f.startsWith('.') || f.includes('tmp'))).toEqual([]);
      });
    }
  });

  it('names a corrupt ONNX file when generating', async () => {
    const out = join(tempDir(), 'aidreams');
    expect((await run(['import', CHECKPOINT, '--tokenizer', TOKENIZER, '--out', out, '--quiet'])).code).toBe(0);
    writeFileSync(join(out, 'onnx/model.onnx'), readFileSync(join(out, 'onnx/model.onnx')).subarray(0, 300_000));
    const r = await run(['generate', out, '--prompt', 'I', '--json']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/onnx\/model\.onnx .* is corrupt or not an ONNX model/);
  }, 60_000);

  it('refuses bad generation flags by name', async () => {
    const r = await run(['generate', CHECKPOINT, '--temperature', 'hot']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--temperature must be a number/);
    const u = await run(['generate', '.', '--bogus']);
    expect(u.err).toMatch(/bogus/);
    expect((await run(['frobnicate'])).err).toMatch(/Unknown command "frobnicate"/);
  });
});

it('bin exits non-zero with usage when run without a command', () => {
  const r = spawnSync('node', [BIN], { encoding: 'utf8' });
  expect(r.status).toBe(1);
  expect(r.stdout).toMatch(/quantlab <command>/);
});

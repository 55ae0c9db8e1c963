// The runner's own decode loop: float16 logits read correctly, Hugging Face's repetition penalty,
// greedy decoding with a penalty equal to an independent loop written here, KV outputs fed back
// untouched and every replaced tensor disposed (what WebGPU's GPU-resident cache needs), and the
// streamed text equal to decoding everything at every token while decoding only a window; a Stop
// sent as a message reaches a loop that waits for the next task between tokens.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PreTrainedTokenizer } from '@huggingface/transformers';
import { afterAll, describe, expect, it } from 'vitest';
import { applyRepetitionPenalty, decodeLoop } from '../../src/lib/runner/decode-loop';
import { nextTask } from '../../src/lib/runner/next-task';
import { lastRow, type OrtSession, type OrtTensor } from '../../src/lib/onnx/session';
import { Runner } from '../../src/lib/runner/runner';
import { StreamText } from '../../src/lib/runner/stream-text';
import { createRng } from '../../src/lib/sampling/rng';
import { configureNodeTransformers } from '../../src/node/transformers-env';
import { aidreamsSource, cleanupTempDirs, writeModel } from '../helpers/model-dirs';
import { createSession, step } from '../helpers/decoder-session';
import { greedyReferences } from '../helpers/aidreams';

afterAll(cleanupTempDirs);

describe('decode loop pieces', () => {
  it('reads the last row of float32 and float16 (bit pattern) logits', () => {
    expect(
      Array.from(lastRow({ type: 'float32', dims: [1, 2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) })),
    ).toEqual([4, 5, 6]);
    // 0x3c00 = 1, 0xc000 = -2, 0x3800 = 0.5, 0x7bff = 65504
    const h = Uint16Array.from([0, 0, 0x3c00, 0xc000, 0x3800, 0x7bff]);
    expect(Array.from(lastRow({ type: 'float16', dims: [1, 2, 3], data: h }))).toEqual([-2, 0.5, 65504]);
  });

  it('applies the repetition penalty as Hugging Face does (once per distinct id)', () => {
    const l = Float32Array.from([2, -2, 3, 1]);
    applyRepetitionPenalty(l, [0, 1, 1, 3], 2);
    expect(Array.from(l)).toEqual([1, -4, 3, 0.5]);
  });
});

describe('Runner decode loop on aidreams260K', () => {
  it('greedy with repetition penalty 1.5 equals an independent loop', async () => {
    configureNodeTransformers({ allowRemote: false });
    const src = aidreamsSource();
    const dir = await writeModel(src, 'aidreams');
    const runner = new Runner();
    await runner.load({ modelId: dir, variant: 'model', device: 'cpu' });
    const r = await runner.generate({
      prompt: 'I dreamed',
      maxNewTokens: 40,
      temperature: 0,
      topK: 0,
      topP: 1,
      repetitionPenalty: 1.5,
      seed: 0,
    });
    await runner.dispose();
    // onnxruntime-node keeps its tensors in host memory; the imported graph returns the new rows
    // alone, so the runner holds the cache (the loop below feeds present.* back instead).
    expect(r.timings.kvLocation).toBe('cpu');
    expect(r.timings.kvPath).toBe('host');

    const s = await createSession(new Uint8Array(readFileSync(join(dir, 'onnx/model.onnx'))));
    const history = [...r.promptIds];
    const expected: number[] = [];
    let out = await step(s, src.config, history);
    for (let i = 0; i < 40; i++) {
      const row = Array.from(out.logits.subarray(out.logits.length - out.vocab));
      for (const id of new Set(history)) row[id] = row[id] < 0 ? row[id] * 1.5 : row[id] / 1.5;
      let best = 0;
      for (let v = 1; v < row.length; v++) if (row[v] > row[best]) best = v;
      expected.push(best);
      history.push(best);
      if (best === 1 || best === 2) break;
      out = await step(s, src.config, [best], out.present, history.length - 1);
    }
    expect(r.ids).toEqual(expected);
    // The penalty really acted: plain greedy (llama2.c's reference) goes elsewhere.
    expect(r.ids).not.toEqual(greedyReferences()[0].greedy_ids.slice(0, r.ids.length));
  }, 60_000);
});

/** A session scripted in JS: logits make (last input id + 1) % V the argmax; KV outputs behave like GPU buffers. */
function scriptedSession(V = 11, layers = 2, addedRows = false) {
  const made = new Set<OrtTensor>();
  const disposed = new Map<OrtTensor, number>();
  const feedsSeen: Record<string, OrtTensor>[] = [];
  const outsSeen: Record<string, OrtTensor>[] = [];
  let readBack = 0;
  const track = (t: OrtTensor): OrtTensor => {
    t.dispose = () => void disposed.set(t, (disposed.get(t) ?? 0) + 1);
    made.add(t);
    return t;
  };
  // Reading a GPU tensor's data would download it (ONNX Runtime Web's gpu-buffer location).
  const gpu = (dims: number[]): OrtTensor =>
    track({
      type: 'float32',
      dims,
      location: 'gpu-buffer',
      get data(): unknown {
        readBack++;
        return new Float32Array(0);
      },
    });
  const names = Array.from({ length: layers }, (_, l) => [
    `past_key_values.${l}.key`,
    `past_key_values.${l}.value`,
  ]).flat();
  const added = addedRows ? names.map((n) => n.replace('past_key_values.', 'new_key_values.')) : [];
  const session: OrtSession = {
    inputNames: ['input_ids', 'attention_mask', 'position_ids', ...names],
    outputNames: ['logits', ...names.map((n) => n.replace('past_key_values.', 'present.')), ...added],
    inputMetadata: names.map((name) => ({ name, isTensor: true, type: 'float32', shape: ['batch', 2, 'past', 4] })),
    async run(feeds) {
      feedsSeen.push(feeds);
      const ids = Array.from(feeds.input_ids.data as BigInt64Array, Number);
      const past = feeds['past_key_values.0.key'].dims[2];
      const n = ids.length;
      const logits = new Float32Array(n * V);
      logits[(n - 1) * V + ((ids[n - 1] + 1) % V)] = 5;
      const out: Record<string, OrtTensor> = { logits: track({ type: 'float32', dims: [1, n, V], data: logits }) };
      for (const name of names) out[name.replace('past_key_values.', 'present.')] = gpu([1, 2, past + n, 4]);
      // The new rows alone come back to the CPU (only present.* is asked to stay on the device).
      for (const name of added)
        out[name] = track({ type: 'float32', dims: [1, 2, n, 4], data: new Float32Array(8 * n) });
      outsSeen.push(out);
      return out;
    },
  };
  const tensor = (type: string, data: unknown, dims: number[]) => track({ type, data, dims });
  /** Tensors holding memory (KV cache, logits) that were not disposed exactly once. */
  const leaks = () =>
    [...made].filter((t) => (t.location === 'gpu-buffer' || t.dims.length >= 3) && disposed.get(t) !== 1).length;
  return { session, tensor, made, disposed, feedsSeen, outsSeen, names, leaks, readBack: () => readBack };
}

describe('decode loop on a scripted session', () => {
  const greedy = (logits: Float32Array) => logits.indexOf(Math.max(...logits));

  it('feeds each step the previous KV outputs as they are (never read back), with the right mask and positions, and disposes each replaced tensor once', async () => {
    const s = scriptedSession();
    const { ids, kvLocation } = await decodeLoop(s.session, s.tensor, {
      promptIds: [3, 4, 5],
      maxNewTokens: 6,
      pick: greedy,
      stopIds: new Set(),
    });
    expect(ids).toEqual([6, 7, 8, 9, 10, 0]);
    expect(kvLocation).toBe('gpu-buffer');
    expect(s.feedsSeen).toHaveLength(6);
    for (let step = 0; step < 6; step++) {
      const f = s.feedsSeen[step];
      const pos = step === 0 ? 0 : 2 + step;
      const n = step === 0 ? 3 : 1;
      expect(Array.from(f.attention_mask.data as BigInt64Array, Number)).toEqual(new Array(pos + n).fill(1));
      expect(f.attention_mask.dims).toEqual([1, pos + n]);
      expect(Array.from(f.position_ids.data as BigInt64Array, Number)).toEqual(
        Array.from({ length: n }, (_, i) => pos + i),
      );
      expect(Array.from(f.input_ids.data as BigInt64Array, Number)).toEqual(step === 0 ? [3, 4, 5] : [ids[step - 1]]);
      for (const name of s.names) {
        if (step === 0) expect(f[name].dims).toEqual([1, 2, 0, 4]);
        // The very object the previous run returned: not copied, not downloaded.
        else expect(f[name] === s.outsSeen[step - 1][name.replace('past_key_values.', 'present.')]).toBe(true);
      }
    }
    // Each int64 input is a view of one buffer made before the first step: no step allocates an
    // ArrayBuffer of its own (each costs tens of µs in Chromium, decode-loop.ts).
    for (const name of ['input_ids', 'attention_mask', 'position_ids'])
      expect(new Set(s.feedsSeen.map((f) => (f[name].data as BigInt64Array).buffer)).size).toBe(1);
    expect(s.readBack()).toBe(0);
    // 4 empty past tensors, then per step 4 KV outputs and the logits: all released exactly once.
    expect([...s.made].filter((t) => t.location === 'gpu-buffer' || t.dims.length >= 3)).toHaveLength(4 + 6 * 5);
    expect(s.leaks()).toBe(0);
  });

  it('keeps the cache on the device where the graph also returns the new rows, and disposes those rows', async () => {
    const s = scriptedSession(11, 2, true);
    const r = await decodeLoop(s.session, s.tensor, {
      promptIds: [3],
      maxNewTokens: 4,
      pick: greedy,
      stopIds: new Set(),
    });
    expect(r.ids).toEqual([4, 5, 6, 7]);
    expect(r.kvLocation).toBe('gpu-buffer');
    expect(r.kvPath).toBe('present');
    for (let step = 1; step < 4; step++)
      for (const name of s.names)
        expect(s.feedsSeen[step][name] === s.outsSeen[step - 1][name.replace('past_key_values.', 'present.')]).toBe(
          true,
        );
    expect(s.readBack()).toBe(0);
    expect(s.leaks()).toBe(0);
  });

  it('releases the KV cache when it stops on a stop id, on abort, and when picking throws', async () => {
    const stop = scriptedSession();
    expect(
      (
        await decodeLoop(stop.session, stop.tensor, {
          promptIds: [1],
          maxNewTokens: 9,
          pick: greedy,
          stopIds: new Set([3]),
        })
      ).ids,
    ).toEqual([2, 3]);
    const ctrl = new AbortController();
    const abort = scriptedSession();
    const got = await decodeLoop(abort.session, abort.tensor, {
      promptIds: [1],
      maxNewTokens: 9,
      pick: greedy,
      stopIds: new Set(),
      signal: ctrl.signal,
      onToken: (id) => id === 4 && ctrl.abort(),
    });
    expect(got.ids).toEqual([2, 3, 4]);
    const bad = scriptedSession();
    let calls = 0;
    const pick = (l: Float32Array) => {
      if (++calls === 3) throw new Error('sampler broke');
      return greedy(l);
    };
    await expect(
      decodeLoop(bad.session, bad.tensor, { promptIds: [1], maxNewTokens: 9, pick, stopIds: new Set() }),
    ).rejects.toThrow('sampler broke');
    for (const s of [stop, abort, bad]) {
      expect(s.outsSeen.length).toBeGreaterThan(1);
      expect(s.leaks()).toBe(0);
      expect(s.readBack()).toBe(0);
    }
  });

  it('reads a Stop sent as a message while it runs only when it waits for the next task between tokens', async () => {
    // The scripted session answers through promises alone, as ONNX Runtime Web does on WASM: a
    // message (a worker's cancel()) can only arrive when the loop gives the event loop a turn.
    const run = async (between?: () => Promise<void>) => {
      const s = scriptedSession();
      const ctrl = new AbortController();
      const { port1, port2 } = new MessageChannel();
      port2.onmessage = () => ctrl.abort();
      const { ids } = await decodeLoop(s.session, s.tensor, {
        promptIds: [1],
        maxNewTokens: 2000,
        pick: greedy,
        stopIds: new Set(),
        signal: ctrl.signal,
        between,
        onToken: () => s.feedsSeen.length === 3 && port1.postMessage('stop'),
      });
      port1.close();
      expect(s.leaks()).toBe(0);
      return ids.length;
    };
    expect(await run()).toBe(2000);
    // Sent after token 3: the loop stops after at most one more token.
    expect(await run(nextTask)).toBeLessThanOrEqual(4);
  });
});

/** GPT-2's byte-to-character table (bytes_to_unicode), for a byte-level tokenizer built here. */
function byteLevelChars(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const out = new Array<string>(256);
  bs.forEach((b, i) => (out[b] = String.fromCharCode(cs[i])));
  return out;
}

/** Byte-level BPE (id 0 special, id b + 1 = byte b) with the space clean-up on. */
function byteLevelTokenizer(): PreTrainedTokenizer {
  const chars = byteLevelChars();
  const vocab: Record<string, number> = { '<|endoftext|>': 0 };
  chars.forEach((c, b) => (vocab[c] = b + 1));
  const level = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return new PreTrainedTokenizer(
    {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [
        {
          id: 0,
          content: '<|endoftext|>',
          single_word: false,
          lstrip: false,
          rstrip: false,
          normalized: false,
          special: true,
        },
      ],
      normalizer: null,
      pre_tokenizer: level,
      post_processor: null,
      decoder: level,
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: '',
        end_of_word_suffix: '',
        fuse_unk: false,
        byte_fallback: false,
        vocab,
        merges: [],
      },
    },
    { clean_up_tokenization_spaces: true, tokenizer_class: 'GPT2Tokenizer' },
  );
}

describe('streamed text', () => {
  const src = aidreamsSource();
  const tokenizers = [
    // llama2.c's tokenizer: byte fallback <0x00>..<0xFF> at ids 3..258, a leading space stripped.
    {
      name: 'aidreams (byte fallback)',
      tok: new PreTrainedTokenizer(src.tokenizerJson, src.tokenizerConfig ?? {}),
      byte: (b: number) => b + 3,
      specials: [0, 1, 2],
      V: 512,
    },
    { name: 'byte-level with clean-up', tok: byteLevelTokenizer(), byte: (b: number) => b + 1, specials: [0], V: 257 },
  ];
  /** Random ids rich in what makes decoding non-local: split UTF-8, runs of skipped specials, " ' ' '", punctuation. */
  function randomIds(rng: () => number, t: (typeof tokenizers)[number], len: number): number[] {
    const ids: number[] = [];
    const ascii = [...` '.nts?!,a`].map((c) => t.byte(c.charCodeAt(0)));
    while (ids.length < len) {
      const r = rng();
      if (r < 0.3) ids.push(ascii[Math.floor(rng() * ascii.length)]);
      else if (r < 0.4) ids.push(...[0xf0, 0x9f, 0x98, 0x80].slice(0, 1 + Math.floor(rng() * 4)).map(t.byte));
      else if (r < 0.45) ids.push(t.byte(0xc3), t.byte(0xa9));
      else if (r < 0.5) ids.push(t.byte(0x80 + Math.floor(rng() * 64)));
      else if (r < 0.55)
        ids.push(...new Array(rng() < 0.3 ? 20 : 1).fill(t.specials[Math.floor(rng() * t.specials.length)]));
      else if (r < 0.6) for (let i = 0; i < 12; i++) ids.push(t.byte(i % 2 ? 0x27 : 0x20));
      else ids.push(Math.floor(rng() * t.V));
    }
    return ids.slice(0, len);
  }

  for (const t of tokenizers) {
    it(`equals decoding prompt and new ids from scratch at every token (${t.name})`, () => {
      const decode = (ids: number[]) => t.tok.decode(ids, { skip_special_tokens: true });
      const rng = createRng(7);
      let steps = 0;
      let notPrefix = 0;
      for (let trial = 0; trial < 120; trial++) {
        // Trial 0: the prompt ends inside a character the new ids complete, so its text is no prefix.
        // Trial 1: a character split by 30 skipped special tokens, completed long after it started.
        const special = new Array<number>(30).fill(t.specials[0]);
        const fixed = [
          {
            prompt: [t.byte(0x61), t.byte(0xf0), t.byte(0x9f)],
            ids: [t.byte(0x98), t.byte(0x80), t.byte(0x62), ...randomIds(rng, t, 40)],
          },
          {
            prompt: randomIds(rng, t, 30),
            ids: [t.byte(0x61), t.byte(0xf0), t.byte(0x9f), t.byte(0x98), ...special, t.byte(0x88), t.byte(0x61)],
          },
        ][trial];
        const prompt = fixed?.prompt ?? randomIds(rng, t, 1 + Math.floor(rng() * 40));
        const ids = fixed?.ids ?? randomIds(rng, t, 1 + Math.floor(rng() * 100));
        const stream = new StreamText(decode, prompt);
        const head = decode(prompt);
        for (let n = 1; n <= ids.length; n++) {
          const all = decode([...prompt, ...ids.slice(0, n)]);
          const want = all.startsWith(head) ? all.slice(head.length) : decode(ids.slice(0, n));
          if (!all.startsWith(head)) notPrefix++;
          expect(stream.push(ids[n - 1])).toBe(want);
          steps++;
        }
      }
      expect(steps).toBeGreaterThan(3000);
      expect(notPrefix).toBeGreaterThan(0); // the prompt-text-is-not-a-prefix branch ran too
    });
  }

  it('decodes a window of ids per token, not the whole sequence', () => {
    const t = tokenizers[0];
    const text = 'Once upon a time, a little girl named Lily found a shiny red ball in the park. ';
    const ids = Array.from(t.tok.encode(text.repeat(20), { add_special_tokens: false }));
    let decoded = 0;
    const decode = (xs: number[]) => {
      decoded += xs.length;
      return t.tok.decode(xs, { skip_special_tokens: true });
    };
    const stream = new StreamText(decode, ids.slice(0, 100));
    decoded = 0;
    let last = '';
    for (const id of ids.slice(100, 500)) last = stream.push(id);
    expect(last).toBe(t.tok.decode(ids.slice(0, 500)).slice(t.tok.decode(ids.slice(0, 100)).length));
    // Decoding everything per token would be ~ 400 * 300 ids; a window of 16..32 ids is ~ 400 * 30.
    expect(decoded).toBeLessThan(400 * 40);
  });
});

describe('Runner streaming on aidreams260K', () => {
  it('streams, token by token, exactly the text of the ids so far', async () => {
    configureNodeTransformers({ allowRemote: false });
    const dir = await writeModel(aidreamsSource(), 'aidreams-stream');
    const runner = new Runner();
    await runner.load({ modelId: dir, variant: 'model', device: 'cpu' });
    const events: { ids: number[]; text: string; offsets: number[]; tokenMs: number[] }[] = [];
    const r = await runner.generate(
      {
        prompt: 'Once upon a time',
        maxNewTokens: 120,
        temperature: 1.2,
        topK: 0,
        topP: 1,
        repetitionPenalty: 1,
        seed: 5,
      },
      // The event's arrays are the runner's own and grow: copy them, as a post to the page does.
      (e) => events.push({ ids: [...e.ids], text: e.text, offsets: [...e.offsets], tokenMs: [...e.tokenMs] }),
    );
    expect(events.length).toBe(r.ids.length);
    expect(r.ids.length).toBeGreaterThan(40);
    for (const [i, e] of events.entries()) {
      expect(e.ids).toEqual(r.ids.slice(0, i + 1));
      expect(e.text).toBe(runner.continuation(r.promptIds, e.ids));
      // Where each token's text ended when it came, and the gaps between the tokens so far.
      expect(e.offsets).toEqual(events.slice(0, i + 1).map((x) => x.text.length));
      expect(e.tokenMs).toEqual(r.timings.tokenMs.slice(0, i));
    }
    expect(events.at(-1)!.text).toBe(r.text);
    await runner.dispose();
  }, 60_000);
});

// The llama2.c tokenizer converter, checked through transformers.js itself: the tokenizer.json it
// writes must give llama2.c's ids on the aidreams oracle prompts and on seeded random text (against
// an independent transcription of run.c's encode), and bad files must fail with 'bad-tokenizer'.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoTokenizer, LlamaTokenizer, env } from '@huggingface/transformers';
import { describe, expect, it } from 'vitest';
import { QuantlabError } from '../../src/lib/errors';
import { llama2cTokenizerFiles, parseLlama2cTokenizer } from '../../src/lib/import/llama2c-tokenizer';
import { greedyReferences, readCheckpoint, readTokenizer } from '../helpers/aidreams';
import { loadRefTokenizer, refDecode, refEncode } from '../helpers/llama2c-encode';
import { mulberry32 } from '../helpers/prng';

const OPTS = { bosTokenId: 1, eosTokenId: 2, unkTokenId: 0, maxLength: 128 };
const BIN = readTokenizer();
const REF = loadRefTokenizer(BIN, 512);

function hfTokenizer(bin: Uint8Array, vocabSize: number): LlamaTokenizer {
  const { tokenizerJson, tokenizerConfig } = llama2cTokenizerFiles(parseLlama2cTokenizer(bin, vocabSize), OPTS);
  return new LlamaTokenizer(tokenizerJson, tokenizerConfig);
}
const TOK = hfTokenizer(BIN, 512);
const decode = (tok: LlamaTokenizer, ids: number[]) => tok.decode(ids, { skip_special_tokens: true });

/** Writes the tokenizer.bin layout by hand: int32 max length, then (f32 score, i32 length, bytes) per id. */
function writeBin(pieces: string[], scores: number[]): Uint8Array {
  const parts = pieces.map((p) => new TextEncoder().encode(p));
  const out = new Uint8Array(4 + parts.reduce((s, p) => s + 8 + p.length, 0));
  const dv = new DataView(out.buffer);
  dv.setInt32(0, Math.max(...parts.map((p) => p.length)), true);
  let o = 4;
  parts.forEach((p, i) => {
    dv.setFloat32(o, scores[i], true);
    dv.setInt32(o + 4, p.length, true);
    out.set(p, o + 8);
    o += 8 + p.length;
  });
  return out;
}
const HEAD = [
  '<unk>',
  '\n<s>\n',
  '\n</s>\n',
  ...Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`),
];
/** A llama2.c vocabulary of the 259 fixed ids plus `extra` pieces with their scores. */
function synthetic(extra: Record<string, number>): { bin: Uint8Array; n: number; pieces: string[] } {
  const pieces = [...HEAD, ...Object.keys(extra)];
  return { bin: writeBin(pieces, [...HEAD.map(() => 0), ...Object.values(extra)]), n: pieces.length, pieces };
}

function expectBad(fn: () => unknown, message: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(QuantlabError);
    expect((e as QuantlabError).code).toBe('bad-tokenizer');
    expect((e as QuantlabError).message).toMatch(message);
    return;
  }
  throw new Error(`expected a bad-tokenizer error matching ${message}`);
}

describe('aidreams260K oracle (llama2.c run.c output)', () => {
  it.each(greedyReferences().map((r) => [JSON.stringify(r.prompt), r] as const))(
    'encodes and decodes %s as llama2.c',
    (_, r) => {
      expect(TOK.encode(r.prompt)).toEqual(r.prompt_ids);
      expect(decode(TOK, [...r.prompt_ids, ...r.greedy_ids])).toBe(r.text);
      // The reference transcription agrees with the oracle too, so the random-text test can trust it.
      expect(refEncode(REF, r.prompt)).toEqual(r.prompt_ids);
      expect(refDecode(REF, [...r.prompt_ids, ...r.greedy_ids], true)).toBe(r.text);
    },
  );

  it('loads from a folder with AutoTokenizer.from_pretrained, as the runner does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'quantlab-tok-'));
    try {
      const { tokenizerJson, tokenizerConfig, warnings } = llama2cTokenizerFiles(parseLlama2cTokenizer(BIN, 512), OPTS);
      expect(warnings).toEqual([]);
      writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
      writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig));
      Object.assign(env, { allowLocalModels: true, allowRemoteModels: false, useFSCache: false });
      const tok = await AutoTokenizer.from_pretrained(dir);
      expect(tok).toBeInstanceOf(LlamaTokenizer);
      expect(tok.padding_side).toBe('left');
      expect([tok.bos_token_id, tok.eos_token_id, tok.unk_token_id, tok.pad_token_id]).toEqual([1, 2, 0, 2]);
      expect(tok.all_special_ids).toEqual([0, 1, 2]);
      expect(tok.model_max_length).toBe(128);
      for (const r of greedyReferences()) {
        expect(Array.from(tok(r.prompt, { return_tensor: false }).input_ids as number[])).toEqual(r.prompt_ids);
        expect(tok.decode([...r.prompt_ids, ...r.greedy_ids], { skip_special_tokens: true })).toBe(r.text);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('random text against the run.c transcription', () => {
  const WORDS = [
    'I',
    'dreamed',
    'whispers',
    'gentle',
    'The',
    'patterns',
    'thresholds',
    'unfolding',
    'weights',
    'Contrast',
    'ocean',
    'xylophone',
    'quiz',
    'JUMP',
  ];
  const PUNCT = [...'.,;:!?\'"()-/=%^&*[]{}#@~|<>`+_$', '–', '°', '...'];
  const SPACES = [' ', '  ', '   ', '    ', '\t', '\n', '\n\n', '\r\n', ' \n '];
  const OTHER = [
    'é',
    'ö',
    'ñ',
    'ç',
    'ü',
    'àè',
    'e\u0301',
    'σ',
    'ε',
    'λμ',
    'Ω',
    'ß',
    '😀',
    '🌙✨',
    '👩‍💻',
    '中文',
    '夢',
    '日本語',
    '한국어',
    '▁',
    '42',
    '3.14',
    '\u00a0',
    '\u200b',
  ];
  const r = mulberry32(20261122);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  const randomLetters = () =>
    Array.from({ length: 1 + Math.floor(r() * 8) }, () => String.fromCharCode(97 + Math.floor(r() * 26))).join('');
  const texts: string[] = [];
  while (texts.length < 400) {
    let s = '';
    const parts = Math.floor(r() * 12);
    for (let i = 0; i < parts; i++) {
      const k = r();
      s +=
        k < 0.3
          ? pick(WORDS)
          : k < 0.45
            ? randomLetters()
            : k < 0.6
              ? pick(PUNCT)
              : k < 0.8
                ? pick(SPACES)
                : pick(OTHER);
    }
    // transformers.js turns a literal special-token name into that token (see 'known differences').
    if (!/<s>|<\/s>|<unk>/.test(s)) texts.push(s);
  }

  it('gives exactly llama2.c ids and decodes back to the text', () => {
    let byteFallbacks = 0;
    let merged = 0;
    for (const s of texts) {
      const ids = TOK.encode(s);
      expect(ids, JSON.stringify(s)).toEqual(refEncode(REF, s));
      expect(decode(TOK, ids), JSON.stringify(s)).toBe(s);
      byteFallbacks += ids.filter((id) => id >= 3 && id < 259).length;
      merged += ids.filter((id) => id >= 259 && REF.vocab[id].length > 1).length;
    }
    // The sample really exercises byte fallback and merging.
    expect(byteFallbacks).toBeGreaterThan(500);
    expect(merged).toBeGreaterThan(500);
    expect(texts.filter((s) => s === '').length).toBeGreaterThan(0);
  });

  it('keeps the empty prompt as [BOS]: no dummy prefix, as llama2.c', () => {
    expect(TOK.encode('')).toEqual([1]);
    expect(TOK.encode(' ')).toEqual([1, 429, 429]);
    expect(TOK.encode('', { add_special_tokens: false })).toEqual([]);
  });
});

describe('merge order on synthetic vocabularies', () => {
  const ALPHA = [' ', 'a', 'b'];
  const allTexts = (maxLen: number) => {
    let level = [''];
    const out: string[] = [];
    for (let L = 1; L <= maxLen; L++) out.push(...(level = level.flatMap((t) => ALPHA.map((c) => t + c))));
    return out;
  };

  it('follows piece scores, not ids, and matches a hand-worked example', () => {
    // "bc" outscores "ab", so run.c merges b+c first, then a+bc into "abc" (score between the two).
    const v = synthetic({ ' ': -50, a: -51, b: -52, c: -53, ab: -2, bc: -1, abc: -3 });
    const tok = hfTokenizer(v.bin, v.n);
    const id = (p: string) => v.pieces.indexOf(p);
    expect(tok.encode('abc')).toEqual([1, id(' '), id('abc')]);
    expect(tok.encode('abab c')).toEqual([1, id(' '), id('ab'), id('ab'), id(' '), id('c')]);
    expect(tok.encode('abab c')).toEqual(refEncode(loadRefTokenizer(v.bin, v.n), 'abab c'));
  });

  it('matches run.c on every short text for random vocabularies with unique scores', () => {
    // Pieces of 2-3 characters over {' ', a, b}: many pieces with several splits (a+bb, ab+b), and
    // scores shuffled so a piece may outscore its own parts.
    const words = allTexts(3).filter((w) => w.length > 1);
    const texts = allTexts(6);
    const r = mulberry32(7);
    for (let v = 0; v < 8; v++) {
      const chosen = words.filter(() => r() < 0.5);
      const ranks = chosen.map((_, i) => i).sort(() => r() - 0.5);
      const extra: Record<string, number> = { ' ': -100, a: -101, b: -102 };
      chosen.forEach((w, i) => (extra[w] = -ranks[i]));
      const s = synthetic(extra);
      const tok = hfTokenizer(s.bin, s.n);
      const ref = loadRefTokenizer(s.bin, s.n);
      for (const t of texts)
        expect(tok.encode(t), `vocabulary ${v}, text ${JSON.stringify(t)}`).toEqual(refEncode(ref, t));
    }
  });

  it('never merges into pieces scored at or below -1e10 (run.c starts its search there)', () => {
    const s = synthetic({ ' ': -1, a: -2, b: -3, ab: -2e10 });
    expect(hfTokenizer(s.bin, s.n).encode('ab')).toEqual([1, 259, 260, 261]);
    expect(refEncode(loadRefTokenizer(s.bin, s.n), 'ab')).toEqual([1, 259, 260, 261]);
  });

  it('handles ties between pieces that cannot overlap, and warns about ties that can', () => {
    const apart = synthetic({ ' ': -9, a: -9, b: -9, c: -9, d: -9, ab: -1, cd: -1 });
    const tok = hfTokenizer(apart.bin, apart.n);
    const ref = loadRefTokenizer(apart.bin, apart.n);
    for (const t of ['abcd', 'cdab', 'ab cd', 'cdcdab', 'acbd']) expect(tok.encode(t)).toEqual(refEncode(ref, t));
    // "ab" and "ba" tied: run.c picks the leftmost pair, so "abab" -> ab|ab and "baba" -> ba|ba.
    // One fixed merge rank cannot do both; the converter says so.
    const tied = synthetic({ ' ': -9, a: -9, b: -9, ba: -1, ab: -1 });
    const files = llama2cTokenizerFiles(parseLlama2cTokenizer(tied.bin, tied.n), OPTS);
    expect(files.warnings.join()).toMatch(/2 mergeable pieces share their score.*"ba", "ab"/);
    const tiedTok = new LlamaTokenizer(files.tokenizerJson, files.tokenizerConfig);
    const tiedRef = loadRefTokenizer(tied.bin, tied.n);
    const agree = ['abab', 'baba'].map(
      (t) => JSON.stringify(tiedTok.encode(t)) === JSON.stringify(refEncode(tiedRef, t)),
    );
    expect(agree).toEqual([false, true]); // ties go to the lower id: "ba"
  });
});

describe('known differences from llama2.c (documented, by design)', () => {
  it('reads a literal special-token name in the text as that token, like every HF Llama tokenizer', () => {
    expect(TOK.encode('<s>')).toEqual([1, 1]);
    expect(refEncode(REF, '<s>')).not.toEqual([1, 1]);
  });
  it('strips the leading space of the first decoded piece even without BOS before it', () => {
    expect(decode(TOK, [303, 281])).toBe('I d'); // run.c would print " I d" after a non-BOS token
  });
});

describe('bad tokenizer files', () => {
  /** Byte offset of entry `id`, walked from the format description. */
  const entryOffset = (id: number) => {
    const dv = new DataView(BIN.buffer, BIN.byteOffset, BIN.byteLength);
    let o = 4;
    for (let i = 0; i < id; i++) o += 8 + dv.getInt32(o + 4, true);
    return o;
  };

  it('rejects truncated files', () => {
    expectBad(() => parseLlama2cTokenizer(BIN.subarray(0, 2), 512), /truncated: 2 bytes/);
    expectBad(() => parseLlama2cTokenizer(BIN.subarray(0, entryOffset(300) + 5), 512), /truncated: entry 300 starts/);
    expectBad(() => parseLlama2cTokenizer(BIN.subarray(0, entryOffset(300) + 9), 512), /truncated: entry 300 needs/);
    expectBad(
      () => parseLlama2cTokenizer(BIN.subarray(0, entryOffset(300)), 512),
      /has 300 entries but the model's vocab_size is 512/,
    );
  });

  it('rejects a vocab_size that does not match the file', () => {
    expectBad(() => parseLlama2cTokenizer(BIN, 1024), /has 512 entries but the model's vocab_size is 1024/);
    expectBad(() => parseLlama2cTokenizer(BIN, 256), /has 512 entries but the model's vocab_size is 256/);
  });

  it('rejects garbage headers and entries', () => {
    const neg = BIN.slice();
    new DataView(neg.buffer).setInt32(0, -7, true);
    expectBad(() => parseLlama2cTokenizer(neg, 512), /max_token_length = -7/);
    const rand = mulberry32(3);
    const junk = Uint8Array.from({ length: 4096 }, () => Math.floor(rand() * 256));
    expectBad(() => parseLlama2cTokenizer(junk, 512), /not a llama2.c tokenizer/);
    // The checkpoint instead of the tokenizer: header int 64 passes, the entries do not.
    expectBad(() => parseLlama2cTokenizer(readCheckpoint(), 512), /not a llama2.c tokenizer: entry \d+ .*byte length/);
    const nan = BIN.slice();
    new DataView(nan.buffer).setUint32(entryOffset(400), 0x7fc00000, true);
    expectBad(() => parseLlama2cTokenizer(nan, 512), /entry 400 .*NaN score/);
    const utf8 = BIN.slice();
    utf8[entryOffset(259) + 8] = 0xff;
    expectBad(() => parseLlama2cTokenizer(utf8, 512), /entry 259 .*not valid UTF-8/);
  });

  it('rejects vocabularies llama2.c byte fallback or transformers.js cannot use', () => {
    const pieces = [...HEAD, ' ', 'a'];
    pieces[3 + 0x41] = 'A';
    expectBad(
      () =>
        parseLlama2cTokenizer(
          writeBin(
            pieces,
            pieces.map(() => 0),
          ),
          pieces.length,
        ),
      /id 68 is "A".*<0x41>/,
    );
    const dup = synthetic({ ' ': -1, a: -2, b: -3, ab: -4, 'a ': -5 });
    const dupPieces = [...dup.pieces.slice(0, -1), 'ab'];
    expectBad(
      () =>
        parseLlama2cTokenizer(
          writeBin(
            dupPieces,
            dupPieces.map(() => 0),
          ),
          dupPieces.length,
        ),
      /ids 262 and 263 have the same piece "ab"/,
    );
    const noSpace = synthetic({ a: -1 });
    expectBad(() => llama2cTokenizerFiles(parseLlama2cTokenizer(noSpace.bin, noSpace.n), OPTS), /no " " piece/);
    const ok = parseLlama2cTokenizer(BIN, 512);
    expectBad(() => llama2cTokenizerFiles(ok, { ...OPTS, bosTokenId: 600 }), /<s> token id 600/);
    expectBad(() => llama2cTokenizerFiles(ok, { ...OPTS, eosTokenId: 1 }), /must differ/);
  });
});

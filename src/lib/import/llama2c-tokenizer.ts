// Turns a llama2.c tokenizer.bin (one score and one piece per id) into the tokenizer.json and
// tokenizer_config.json transformers.js loads, with BPE merges ranked so that its rank-ordered BPE
// makes the same choices as llama2.c's "merge the highest-scoring adjacent pair" loop.

import { QuantlabError } from '../errors';

/** The contents of a llama2.c tokenizer.bin. */
export interface Llama2cVocab {
  /** The header's max_token_length (bytes of the longest piece). */
  maxTokenLength: number;
  /** Piece text per id (UTF-8 decoded, spaces kept as ' ': llama2.c's export already replaced '▁'). */
  pieces: string[];
  /** Merge score per id; llama2.c merges the adjacent pair whose concatenation has the highest score. */
  scores: Float32Array;
}

export interface Llama2cTokenizerOptions {
  bosTokenId: number;
  eosTokenId: number;
  unkTokenId: number;
  /** model_max_length, normally the checkpoint's seq_len. */
  maxLength: number;
}

/** llama2.c maps byte b it cannot find as a piece to id b + 3 (run.c's encode). */
const BYTE_TOKEN_BASE = 3;
/** Longest piece accepted; real files have 10 to 30 or so, so more means the header is not one. */
const MAX_PIECE_BYTES = 1024;
/** run.c starts its best-score search at -1e10 with a strict '>': pieces at or below never merge. */
const MIN_MERGE_SCORE = -1e10;

const byteTokenPiece = (b: number) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;

function bad(
  message: string,
  detail = 'Use the tokenizer.bin that was exported together with this checkpoint (llama2.c tokenizer.py format).',
): QuantlabError {
  return new QuantlabError('bad-tokenizer', message, detail);
}

/**
 * Parses a llama2.c tokenizer.bin: int32 max_token_length, then per id a float32 score, an int32
 * byte length and the piece bytes. `vocabSize` is the model's; the file must hold exactly that many
 * entries, with the byte tokens <0x00>..<0xFF> at ids 3..258 as llama2.c's byte fallback assumes.
 * Throws QuantlabError('bad-tokenizer') naming the problem otherwise.
 */
export function parseLlama2cTokenizer(bytes: Uint8Array, vocabSize: number, fileName = 'tokenizer.bin'): Llama2cVocab {
  const size = bytes.byteLength;
  if (size < 4) throw bad(`${fileName} is truncated: ${size} bytes, too short for the 4-byte max_token_length header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, size);
  const maxTokenLength = view.getInt32(0, true);
  if (!(maxTokenLength >= 1 && maxTokenLength <= MAX_PIECE_BYTES)) {
    throw bad(
      `${fileName} is not a llama2.c tokenizer: its header says max_token_length = ${maxTokenLength} (expected 1..${MAX_PIECE_BYTES})`,
    );
  }
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const pieces: string[] = [];
  const scores: number[] = [];
  let off = 4;
  while (off < size) {
    const id = pieces.length;
    if (off + 8 > size) {
      throw bad(
        `${fileName} is truncated: entry ${id} starts at byte ${off} but the file ends at byte ${size} (the model's vocab_size is ${vocabSize})`,
      );
    }
    const score = view.getFloat32(off, true);
    const len = view.getInt32(off + 4, true);
    if (Number.isNaN(score))
      throw bad(`${fileName} is not a llama2.c tokenizer: entry ${id} (byte ${off}) has a NaN score`);
    if (!(len >= 1 && len <= maxTokenLength)) {
      throw bad(
        `${fileName} is not a llama2.c tokenizer: entry ${id} (byte ${off}) has byte length ${len}, outside 1..max_token_length (${maxTokenLength})`,
      );
    }
    if (off + 8 + len > size) {
      throw bad(
        `${fileName} is truncated: entry ${id} needs bytes ${off + 8}..${off + 8 + len} but the file ends at byte ${size} (the model's vocab_size is ${vocabSize})`,
      );
    }
    try {
      pieces.push(utf8.decode(bytes.subarray(off + 8, off + 8 + len)));
    } catch {
      throw bad(`${fileName}: the piece of entry ${id} (byte ${off + 8}) is not valid UTF-8`);
    }
    scores.push(score);
    off += 8 + len;
  }
  if (pieces.length !== vocabSize) {
    throw bad(
      `${fileName} has ${pieces.length} entries but the model's vocab_size is ${vocabSize}`,
      'The tokenizer and the checkpoint must come from the same training run (same vocabulary size).',
    );
  }
  if (vocabSize < BYTE_TOKEN_BASE + 256)
    throw bad(`${fileName}: vocab_size ${vocabSize} is too small for llama2.c's 3 special + 256 byte tokens`);
  for (let b = 0; b < 256; b++) {
    const want = byteTokenPiece(b);
    if (pieces[BYTE_TOKEN_BASE + b] !== want) {
      throw bad(
        `${fileName}: id ${BYTE_TOKEN_BASE + b} is ${JSON.stringify(pieces[BYTE_TOKEN_BASE + b])}, but llama2.c's byte fallback needs the byte token ${want} there`,
      );
    }
  }
  const seen = new Map<string, number>();
  pieces.forEach((p, id) => {
    const other = seen.get(p);
    if (other !== undefined) throw bad(`${fileName}: ids ${other} and ${id} have the same piece ${JSON.stringify(p)}`);
    seen.set(p, id);
  });
  return { maxTokenLength, pieces, scores: Float32Array.from(scores) };
}

interface Merge {
  left: string;
  right: string;
  score: number;
  pieceId: number;
}

/**
 * Every pair of ordinary pieces (left, right) whose concatenation is an ordinary piece, in the
 * order transformers.js must try them. Its BPE merges the lowest-ranked pair present (leftmost
 * among equal pairs); llama2.c merges the highest-scoring one (leftmost among equal scores). So:
 * 1. score of the merged piece, descending: rank order = llama2.c's preference order;
 * 2. equal scores, different pieces: lower id first. llama2.c takes the leftmost of the two,
 *    which no fixed rank can express: where their pairs share a token ("abab" with "ab" and
 *    "ba" tied) the two tokenizers differ, hence the warning in llama2cTokenizerFiles;
 * 3. one piece with several splits (a+bc, ab+c): longer left part first. Two of its splits can
 *    compete only as overlapping pairs T1|T2|T3 with T1T2 = T2T3; llama2.c takes the left one,
 *    (T1, T2), and |T1| > |T2| whenever the shared border T2 is under half the piece, i.e. for
 *    every piece that is not a repetition of a shorter pattern ("aaa", "abab").
 * Byte tokens and specials never take part: transformers.js only ever sees them after merging
 * (llama2.c could merge a byte token's "<0xNN>" spelling, but no SentencePiece export has such
 * a piece).
 */
function buildMerges(pieces: string[], scores: Float32Array, ordinary: (id: number) => boolean): Merge[] {
  const idOf = new Map<string, number>();
  pieces.forEach((p, id) => ordinary(id) && idOf.set(p, id));
  const merges: (Merge & { leftLen: number })[] = [];
  pieces.forEach((piece, pieceId) => {
    const score = scores[pieceId];
    if (!ordinary(pieceId) || !(score > MIN_MERGE_SCORE)) return;
    // Split at code point boundaries only: llama2.c's pieces and tokens are whole UTF-8 characters.
    const chars = Array.from(piece);
    let left = '';
    for (let k = 1; k < chars.length; k++) {
      left += chars[k - 1];
      const right = piece.slice(left.length);
      if (idOf.has(left) && idOf.has(right)) merges.push({ left, right, score, pieceId, leftLen: k });
    }
  });
  merges.sort((a, b) => b.score - a.score || a.pieceId - b.pieceId || b.leftLen - a.leftLen);
  return merges;
}

/** Merge results whose score another merge result shares: rank 2 above, where exactness can end. */
function tiedPieces(merges: Merge[], pieces: string[]): string[] {
  const byScore = new Map<number, Set<number>>();
  for (const m of merges) {
    const set = byScore.get(m.score) ?? new Set<number>();
    byScore.set(m.score, set.add(m.pieceId));
  }
  return [...byScore.values()].filter((s) => s.size > 1).flatMap((s) => [...s].map((id) => JSON.stringify(pieces[id])));
}

/**
 * Builds tokenizer.json (BPE with byte fallback, llama2.c's pieces with raw spaces, the dummy-prefix
 * space added by a Prepend normalizer, BOS added by the post-processor) and tokenizer_config.json.
 * Loaded by transformers.js (AutoTokenizer -> LlamaTokenizer) it encodes text as llama2.c's
 * encode(text, bos=1, eos=0) does and decodes as run.c prints, leading space after BOS stripped.
 * `warnings` is non-empty when two mergeable pieces share a score (see buildMerges), the one case
 * where exactness is not guaranteed. Throws QuantlabError('bad-tokenizer') on unusable ids.
 * By design, like every Hugging Face Llama tokenizer, a literal "<s>", "</s>" or "<unk>" in the
 * text becomes that special token, where llama2.c would spell it out.
 */
export function llama2cTokenizerFiles(
  vocab: Llama2cVocab,
  opts: Llama2cTokenizerOptions,
): { tokenizerJson: object; tokenizerConfig: object; warnings: string[] } {
  const n = vocab.pieces.length;
  const special = new Map<number, string>([
    [opts.unkTokenId, '<unk>'],
    [opts.bosTokenId, '<s>'],
    [opts.eosTokenId, '</s>'],
  ]);
  for (const [id, name] of special) {
    if (!(Number.isInteger(id) && id >= 0 && id < n) || (id >= BYTE_TOKEN_BASE && id < BYTE_TOKEN_BASE + 256)) {
      throw bad(
        `the ${name} token id ${id} is not a special id of this ${n}-entry tokenizer`,
        'llama2.c uses 0 for <unk>, 1 for BOS and 2 for EOS.',
      );
    }
  }
  if (special.size !== 3)
    throw bad(
      `unk, bos and eos token ids must differ (got ${opts.unkTokenId}, ${opts.bosTokenId}, ${opts.eosTokenId})`,
    );
  const isByte = (id: number) => id >= BYTE_TOKEN_BASE && id < BYTE_TOKEN_BASE + 256;
  const ordinary = (id: number) => !special.has(id) && !isByte(id);
  if (!vocab.pieces.some((p, id) => p === ' ' && ordinary(id))) {
    throw bad('the tokenizer has no " " piece, which llama2.c prepends to every non-empty prompt');
  }

  const hfVocab: Record<string, number> = {};
  vocab.pieces.forEach((p, id) => {
    const text = special.get(id) ?? p;
    if (Object.hasOwn(hfVocab, text))
      throw bad(
        `ids ${hfVocab[text]} and ${id} would both be ${JSON.stringify(text)} (specials are renamed <unk>, <s>, </s>)`,
      );
    hfVocab[text] = id;
  });
  const merges = buildMerges(vocab.pieces, vocab.scores, ordinary);
  const tied = tiedPieces(merges, vocab.pieces);
  const warnings =
    tied.length === 0
      ? []
      : [
          `${tied.length} mergeable pieces share their score with another (${tied.slice(0, 6).join(', ')}${tied.length > 6 ? ', ...' : ''}): ` +
            'llama2.c breaks such ties by position, which a BPE merge list cannot express, so text where two of them overlap may tokenize differently',
        ];

  const addedTokens = [...special]
    .sort((a, b) => a[0] - b[0])
    .map(([id, content]) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    }));
  const bos = special.get(opts.bosTokenId)!;
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    // llama2.c's dummy prefix. transformers.js skips the normalizer for an empty text, so '' stays
    // [BOS] as in llama2.c. Spaces stay ' ' (no '▁' mapping), so a literal '▁' in the text
    // falls back to bytes exactly as llama2.c does.
    normalizer: { type: 'Prepend', prepend: ' ' },
    pre_tokenizer: null,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: special.get(opts.unkTokenId),
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab: hfVocab,
      merges: merges.map((m) => [m.left, m.right]),
    },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: bos, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: bos, type_id: 1 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { [bos]: { id: bos, ids: [opts.bosTokenId], tokens: [bos] } },
    },
    // <0xNN> pieces become bytes, then the dummy-prefix space of the first piece goes.
    decoder: {
      type: 'Sequence',
      decoders: [{ type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }],
    },
  };

  const tokenizerConfig = {
    tokenizer_class: 'LlamaTokenizer',
    add_bos_token: true,
    add_eos_token: false,
    bos_token: bos,
    eos_token: special.get(opts.eosTokenId),
    unk_token: special.get(opts.unkTokenId),
    pad_token: null,
    clean_up_tokenization_spaces: false,
    // Python transformers: keep LlamaTokenizerFast on this tokenizer.json (no rebuild from a
    // SentencePiece model, which does not exist) and silence its legacy warning.
    legacy: true,
    spaces_between_special_tokens: false,
    model_max_length: opts.maxLength,
    added_tokens_decoder: Object.fromEntries(addedTokens.map(({ id, ...rest }) => [String(id), rest])),
  };
  return { tokenizerJson, tokenizerConfig, warnings };
}

// An independent transcription of llama2.c's tokenizer (run.c: build_tokenizer, encode, decode),
// working on bytes like the C code, so tests can check the converted tokenizer.json against it.
// It shares no code with src/lib/import/llama2c-tokenizer.ts on purpose.

/** run.c's Tokenizer: pieces as byte strings (one char per byte, code 0..255) and float32 scores. */
export interface RefTokenizer {
  vocab: string[];
  scores: Float32Array;
  lookup: Map<string, number>;
}

const bytesToBinary = (b: Uint8Array) => String.fromCharCode(...b);
const binaryToBytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** build_tokenizer: reads exactly vocabSize entries, as run.c does (no validation). */
export function loadRefTokenizer(bin: Uint8Array, vocabSize: number): RefTokenizer {
  const view = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);
  const vocab: string[] = [];
  const scores = new Float32Array(vocabSize);
  let off = 4; // max_token_length: run.c only sizes a buffer with it
  for (let i = 0; i < vocabSize; i++) {
    scores[i] = view.getFloat32(off, true);
    const len = view.getInt32(off + 4, true);
    vocab.push(bytesToBinary(bin.subarray(off + 8, off + 8 + len)));
    off += 8 + len;
  }
  const lookup = new Map<string, number>();
  vocab.forEach((p, i) => lookup.has(p) || lookup.set(p, i));
  return { vocab, scores, lookup };
}

/** encode(t, text, bos=1, eos=0, tokens, &n) from run.c. */
export function refEncode(t: RefTokenizer, text: string, bos = true, eos = false): number[] {
  const str = (s: string) => t.lookup.get(s) ?? -1;
  const bytes = new TextEncoder().encode(text);
  const tokens: number[] = [];
  if (bos) tokens.push(1);
  if (bytes.length > 0) tokens.push(str(' ')); // add_dummy_prefix
  // UTF-8: a lead byte plus up to 3 continuation bytes form one lookup.
  let buf: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    if ((bytes[i] & 0xc0) !== 0x80) buf = [];
    buf.push(bytes[i]);
    if (i + 1 < bytes.length && (bytes[i + 1] & 0xc0) === 0x80 && buf.length < 4) continue;
    const id = str(String.fromCharCode(...buf));
    if (id !== -1) tokens.push(id);
    else for (const b of buf) tokens.push(b + 3); // byte_fallback: first 3 ids are <unk>, <s>, </s>
    buf = [];
  }
  // Merge the best consecutive pair each iteration, according to the scores in vocab_scores.
  for (;;) {
    let bestScore = Math.fround(-1e10);
    let bestId = -1;
    let bestIdx = -1;
    for (let i = 0; i < tokens.length - 1; i++) {
      const id = str(t.vocab[tokens[i]] + t.vocab[tokens[i + 1]]);
      if (id !== -1 && t.scores[id] > bestScore) {
        bestScore = t.scores[id];
        bestId = id;
        bestIdx = i;
      }
    }
    if (bestIdx === -1) break;
    tokens.splice(bestIdx, 2, bestId);
  }
  if (eos) tokens.push(2);
  return tokens;
}

/**
 * What run.c's generate loop emits for a sequence of ids (the first is the initial token, never
 * printed): decode(prev, token) for each following token, i.e. a leading space dropped after BOS
 * and <0xNN> pieces turned into their byte. run.c's safe_printf also drops single non-printable
 * bytes; with `safePrintf` true that is applied too.
 */
export function refDecode(t: RefTokenizer, ids: number[], safePrintf = false): string {
  let out = '';
  for (let i = 1; i < ids.length; i++) {
    let piece = t.vocab[ids[i]];
    if (ids[i - 1] === 1 && piece[0] === ' ') piece = piece.slice(1);
    const m = /^<0x([0-9A-Fa-f]{2})>/.exec(piece);
    if (m) piece = String.fromCharCode(parseInt(m[1], 16));
    if (safePrintf && piece.length === 1) {
      const c = piece.charCodeAt(0);
      const isprint = c >= 0x20 && c <= 0x7e;
      const isspace = c === 0x20 || (c >= 0x09 && c <= 0x0d);
      if (!isprint && !isspace) continue;
    }
    out += piece;
  }
  return new TextDecoder().decode(binaryToBytes(out));
}

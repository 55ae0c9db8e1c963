// The streamed text of a generation without decoding every id at every token: decoding the
// prompt and all new ids per token costs O(n) per token, O(n^2) per generation, so the streamed
// text is kept at O(window) per token whatever the length. Detokenizers are local: a new
// id changes the text only near its end (byte-fallback and byte-level characters span at most 4
// ids, clean-up patterns 2), so re-decoding a window of the last ids and splicing the change into
// the text gives what a full decode gives. Where that cannot be relied on (a change near the
// window start, or a window that does not read as the text ends) it decodes everything.

type Decode = (ids: number[]) => string;

/**
 * Ids re-decoded per token: a window starts WINDOW ids back (further when those ids make fewer
 * than 2 * MIN_CHANGE_AT characters) and moves on every WINDOW ids.
 */
const WINDOW = 8;
/**
 * A change must start at least this many characters into the window's text to be spliced. What
 * a new id can change before the window start (complete a character whose first bytes precede
 * it, or finish a clean-up pattern across it) lies within 4 characters of that boundary, and
 * special tokens decode to nothing, so the window's text before such an id is that short too.
 */
const MIN_CHANGE_AT = 8;

/** decode(ids) of an append-only id list, updated per id from a window of the last ids. */
export class IncrementalDecode {
  readonly #decode: Decode;
  readonly #ids: number[];
  #text: string;
  /** Window start, the window's decoded text, and the id count at which the window moves on. */
  #start = 0;
  #windowText = '';
  #moveAt = 0;
  /** Whether the window's text can stand for the end of the text (checked at each window start). */
  #trusted = true;

  constructor(decode: Decode, ids: readonly number[]) {
    this.#decode = decode;
    this.#ids = [...ids];
    this.#text = this.#ids.length ? decode(this.#ids) : '';
    this.#restart();
  }

  get text(): string {
    return this.#text;
  }

  push(id: number): string {
    const ids = this.#ids;
    ids.push(id);
    if (!this.#trusted) return this.#full();
    const after = this.#decode(ids.slice(this.#start));
    if (this.#start === 0) {
      this.#text = after; // the window holds every id: this is the full decode
    } else {
      const before = this.#windowText;
      let c = 0;
      const m = Math.min(before.length, after.length);
      while (c < m && before.charCodeAt(c) === after.charCodeAt(c)) c++;
      if (c < MIN_CHANGE_AT) return this.#full();
      this.#text = this.#text.slice(0, this.#text.length - (before.length - c)) + after.slice(c);
    }
    this.#windowText = after;
    if (ids.length >= this.#moveAt) this.#restart();
    return this.#text;
  }

  #full(): string {
    this.#text = this.#decode(this.#ids);
    this.#restart();
    return this.#text;
  }

  #restart(): void {
    const ids = this.#ids;
    for (let size = WINDOW; ; size *= 2) {
      this.#start = Math.max(0, ids.length - size);
      this.#windowText = ids.length > this.#start ? this.#decode(ids.slice(this.#start)) : '';
      if (this.#start === 0 || this.#windowText.length >= 2 * MIN_CHANGE_AT) break;
    }
    this.#moveAt = ids.length + WINDOW;
    // The window must read exactly as the text ends, after a text that ends in a complete
    // character (U+FFFD may be bytes a later id completes). Otherwise (a character or a
    // start-dependent rewrite such as the clean-up's " ' " over " ' ' ' " runs across the
    // window start) everything is decoded until a window start fits.
    const text = this.#text;
    const w = this.#windowText;
    this.#trusted = this.#start === 0 || (text.endsWith(w) && text.charCodeAt(text.length - w.length - 1) !== 0xfffd);
  }
}

/**
 * The text new ids add after the prompt, per new id: decode(prompt + ids) minus the prompt's
 * text, or decode(ids) alone when the prompt's text is not a prefix (exactly what decoding from
 * scratch at every token gives).
 */
export class StreamText {
  readonly #decode: Decode;
  readonly #head: string;
  readonly #all: IncrementalDecode;
  readonly #ids: number[] = [];
  #alone?: IncrementalDecode;

  constructor(decode: Decode, promptIds: readonly number[]) {
    this.#decode = decode;
    this.#all = new IncrementalDecode(decode, promptIds);
    this.#head = this.#all.text;
  }

  push(id: number): string {
    this.#ids.push(id);
    const all = this.#all.push(id);
    this.#alone?.push(id);
    if (all.startsWith(this.#head)) return all.slice(this.#head.length);
    this.#alone ??= new IncrementalDecode(this.#decode, this.#ids);
    return this.#alone.text;
  }
}

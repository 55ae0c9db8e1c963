// What is typed into a field and not applied yet survives a reload: one localStorage record of
// drafts by field id (src/lib/page/fields.ts reads it back). NumberField is one numeric field's
// state: checked at each keystroke (the message and aria-invalid at the field), applied on commit
// (Enter or leaving the field: clamped with a message, or refused and kept as a draft).

import { MAX_DRAFT_CHARS, parseDrafts, type Draft, type FieldCheck } from '../lib/page/fields';

const KEY = 'quantlab:drafts:v1';

function readAll(): Record<string, Draft> {
  try {
    const raw = localStorage.getItem(KEY);
    return raw ? parseDrafts(JSON.parse(raw)) : {};
  } catch {
    return {};
  }
}

/** The kept text of field `id`, if any. */
export function readDraft(id: string): Draft | undefined {
  return readAll()[id];
}

/** Keeps (or with undefined, forgets) field `id`'s text; a full or blocked storage only loses the draft. */
export function writeDraft(id: string, draft: Draft | undefined): void {
  const all = readAll();
  if (draft && draft.text.length <= MAX_DRAFT_CHARS) all[id] = draft;
  else delete all[id];
  try {
    localStorage.setItem(KEY, JSON.stringify(all));
  } catch {
    // storage full or disabled: the draft lasts this visit only
  }
}

/** Runs `f` after the current update (a microtask) unless `el` has left the page by then. */
function ifStillThere(el: HTMLInputElement, f: (el: HTMLInputElement) => void): void {
  queueMicrotask(() => {
    if (el.isConnected) f(el);
  });
}

/** The note a restored draft carries until it is applied or changed. */
export const RESTORED_NOTE =
  'Typed earlier (before a reload, or before the panel was redrawn), not applied yet: press Enter or leave the field to apply it.';

export interface NumberFieldOptions {
  /** The id of the element the message is shown in (default `${id}-message`). */
  messageId?: string;
  /** Keep the applied value too, and apply it again on the next visit (for values nothing else stores). */
  keep?: boolean;
}

/** One numeric field: its draft text, its message at the field, and whether what it shows is refused. */
export class NumberField {
  /** Text typed and not applied (null: the field shows the applied value). */
  text = $state<string | null>(null);
  /** The check's message about the text typed or the value applied ('' = none). */
  message = $state('');
  /** The text in the field is refused or will be changed when applied. */
  invalid = $state(false);
  /** The draft came back from the last visit. */
  restored = $state(false);
  readonly messageId: string;

  constructor(
    readonly id: string,
    private readonly check: (text: string) => FieldCheck,
    private readonly apply: (value: number) => void,
    private readonly options: NumberFieldOptions = {},
  ) {
    this.messageId = options.messageId ?? `${id}-message`;
    const d = readDraft(id);
    if (!d) return;
    if (d.applied) {
      const c = check(d.text);
      if (c.value !== undefined && !c.message) apply(c.value);
      else writeDraft(id, undefined);
      return;
    }
    this.#show(d.text);
    this.restored = true;
  }

  /** What the field shows: the draft, else the applied value. */
  shown(applied: number | string): string {
    return this.text ?? String(applied);
  }

  /** The message the field's aria-describedby names, with the restored note ('' = none). */
  get note(): string {
    return [this.message, this.restored ? RESTORED_NOTE : ''].filter(Boolean).join(' ');
  }

  /** A keystroke: keep the text as a draft and check it (nothing is applied). */
  input(text: string): void {
    this.restored = false;
    this.#show(text);
    writeDraft(this.id, { text });
  }

  /** Enter or leaving the field: apply the checked value (the field shows it) or keep the refused text. */
  commit(el: HTMLInputElement): void {
    const c = this.check(el.value);
    this.restored = false;
    if (c.value === undefined) {
      this.#show(el.value);
      return;
    }
    this.apply(c.value);
    this.text = null;
    this.message = c.message ?? '';
    this.invalid = false;
    // The field shows the value in use, not the one refused.
    el.value = String(c.value);
    writeDraft(this.id, this.options.keep ? { text: String(c.value), applied: true } : undefined);
  }

  /** Leaving the field or Enter with a draft in it applies it (a restored draft too, which no change event covers). */
  leave(el: HTMLInputElement): void {
    if (this.text !== null) this.commit(el);
  }

  /**
   * The field's event handlers, spread onto its <input>: typing, committing, leaving, Enter. A
   * field taken out of the page (its panel redrawn, as the Setup panel is when the window crosses
   * the wide breakpoint) gets blur and change while still in it, as it goes: those apply only if
   * the field is still there once the page's update is done, so a draft stays a draft.
   */
  readonly events = {
    oninput: (e: Event) => this.input((e.currentTarget as HTMLInputElement).value),
    onchange: (e: Event) => ifStillThere(e.currentTarget as HTMLInputElement, (el) => this.commit(el)),
    onblur: (e: Event) => ifStillThere(e.currentTarget as HTMLInputElement, (el) => this.leave(el)),
    onkeydown: (e: KeyboardEvent) => {
      if (e.key === 'Enter') this.leave(e.currentTarget as HTMLInputElement);
    },
  };

  /** The value was set another way (a slider, a button): the draft and its message go. */
  reset(): void {
    if (this.text === null && !this.message) return;
    this.text = null;
    this.message = '';
    this.invalid = false;
    this.restored = false;
    writeDraft(this.id, undefined);
  }

  #show(text: string): void {
    const c = this.check(text);
    this.text = text;
    this.message = c.message ?? '';
    this.invalid = !!c.message;
  }
}

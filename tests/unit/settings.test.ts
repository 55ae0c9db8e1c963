import { describe, expect, it } from 'vitest';
import {
  checkMemoryBudget,
  checkNumber,
  DEFAULT_SETTINGS,
  mergeSettings,
  NUMBER_SPECS,
  parseRefKey,
  settingsFromQuery,
  settingsFromStored,
  settingsToQuery,
} from '../../src/lib/page/settings';

describe('checkNumber', () => {
  it('accepts in-range values as they are, without a message', () => {
    expect(checkNumber('temperature', '0.7')).toEqual({ value: 0.7 });
    expect(checkNumber('topK', 0)).toEqual({ value: 0 });
    expect(checkNumber('seed', '4294967295')).toEqual({ value: 4294967295 });
  });

  it('clamps out-of-range values and says which bound it used', () => {
    expect(checkNumber('temperature', '5')).toEqual({
      value: 2,
      message: 'Temperature 5 is above the maximum 2; using 2.',
    });
    expect(checkNumber('temperature', '-1')).toEqual({
      value: 0,
      message: 'Temperature -1 is below the minimum 0; using 0.',
    });
    expect(checkNumber('topK', 500).value).toBe(200);
    expect(checkNumber('topP', '0').value).toBe(NUMBER_SPECS.topP.min);
    expect(checkNumber('maxNewTokens', '0').message).toMatch(/Max new tokens 0 is below the minimum 1/);
  });

  it('rounds whole-number settings and falls back to the default for garbage', () => {
    expect(checkNumber('topK', '12.6')).toEqual({
      value: 13,
      message: 'Top-k must be a whole number (got 12.6); using 13.',
    });
    expect(checkNumber('seed', 'abc')).toEqual({ value: 42, message: 'Seed: "abc" is not a number; using 42.' });
    expect(checkNumber('temperature', '')).toMatchObject({ value: NUMBER_SPECS.temperature.default });
    expect(checkNumber('temperature', 'Infinity').value).toBe(NUMBER_SPECS.temperature.default);
  });
});

describe('URL query', () => {
  it('reads only the keys present, with their query names', () => {
    const r = settingsFromQuery('?temperature=0.7&seed=5');
    expect(r.settings).toEqual({ temperature: 0.7, seed: 5 });
    expect(r.messages).toEqual([]);
    expect(
      settingsFromQuery('?top_k=7&top_p=0.5&max_new_tokens=122&repetition_penalty=1.1&chat=1&live=0&device=wasm')
        .settings,
    ).toEqual({
      topK: 7,
      topP: 0.5,
      maxNewTokens: 122,
      repetitionPenalty: 1.1,
      chatTemplate: true,
      live: false,
      device: 'wasm',
    });
  });

  it('clamps bad values and reports each one', () => {
    const r = settingsFromQuery('temperature=9&device=tpu&live=maybe&model=nonsense');
    expect(r.settings).toEqual({ temperature: 2, device: 'auto', live: true });
    expect(r.messages).toHaveLength(4);
    expect(r.messages[0]).toContain('Temperature 9 is above the maximum 2');
    expect(r.messages.join(' ')).toMatch(/Device: "tpu"/);
    expect(r.model).toBeUndefined();
  });

  it('round-trips settings, prompt, model and variants', () => {
    const s = {
      ...DEFAULT_SETTINGS,
      temperature: 0.35,
      topK: 3,
      seed: 123456,
      chatTemplate: true,
      device: 'webgpu' as const,
    };
    const q = settingsToQuery(s, { prompt: 'Hi & bye?', model: 'local:aidreams260K', variants: ['model', 'model_q4'] });
    const back = settingsFromQuery(q);
    // The default Model host stays out of share links (the reader's own host applies); the memory
    // budget and Generate on opening belong to the device, not to the link (see their tests below).
    const { host, memoryBudgetMb, autorun, ...shared } = s;
    expect(autorun).toBe(true);
    expect(q).not.toContain('autorun');
    expect(host).toBe('https://huggingface.co');
    expect(q).not.toContain('host=');
    expect(memoryBudgetMb).toBe(0);
    expect(back.settings).toEqual(shared);
    expect(back.prompt).toBe('Hi & bye?');
    expect(back.model).toBe('local:aidreams260K');
    expect(back.variants).toEqual(['model', 'model_q4']);
    expect(back.messages).toEqual([]);
  });

  it('carries a Model host other than the Hub in the link, and checks one read back', () => {
    const q = settingsToQuery({ ...DEFAULT_SETTINGS, host: 'http://127.0.0.1:8080' });
    expect(new URLSearchParams(q).get('host')).toBe('http://127.0.0.1:8080');
    expect(settingsFromQuery(q).settings.host).toBe('http://127.0.0.1:8080');
    expect(settingsFromQuery('host=https://mirror.example.org/hf/').settings.host).toBe(
      'https://mirror.example.org/hf',
    );
    const bad = settingsFromQuery('host=mirror.example.org');
    expect(bad.settings).not.toHaveProperty('host');
    expect(bad.messages).toEqual([
      'Model host "mirror.example.org" is not a URL: write it with http:// or https://, like https://huggingface.co or http://127.0.0.1:8080. Keeping the Model host you had.',
    ]);
    const stored = settingsFromStored({ settings: { host: 'http://10.0.0.2:9000/' } });
    expect(mergeSettings(stored, settingsFromQuery('seed=3')).settings.host).toBe('http://10.0.0.2:9000');
  });

  it('reads Generate on opening (autorun) from the URL and storage, and keeps it out of share links', () => {
    expect(DEFAULT_SETTINGS.autorun).toBe(true);
    expect(settingsFromQuery('autorun=0').settings).toEqual({ autorun: false });
    expect(settingsFromQuery('autorun=1').settings).toEqual({ autorun: true });
    const bad = settingsFromQuery('autorun=later');
    expect(bad.settings).toEqual({ autorun: true });
    expect(bad.messages).toEqual(['Generate on opening: "later" is not on/off (1 or 0); using 1.']);
    const stored = settingsFromStored({ settings: { autorun: false } });
    expect(mergeSettings(stored).settings.autorun).toBe(false);
    expect(mergeSettings(stored, settingsFromQuery('autorun=1')).settings.autorun).toBe(true);
    expect(new URLSearchParams(settingsToQuery({ ...DEFAULT_SETTINGS, autorun: false })).has('autorun')).toBe(false);
  });

  it('drops variant names that are not file stems', () => {
    expect(settingsFromQuery('variants=model,../x,model_q4,model').variants).toEqual(['model', 'model_q4']);
  });
});

describe('stored record and merging', () => {
  it('ignores garbage and validates stored values like URL ones', () => {
    expect(settingsFromStored('nope')).toEqual({ settings: {}, messages: [] });
    expect(settingsFromStored(null)).toEqual({ settings: {}, messages: [] });
    const r = settingsFromStored({
      settings: { temperature: 3, topK: 10, live: false },
      prompt: 'Once',
      model: 'served:quantlab-tiny',
      variants: ['model'],
    });
    expect(r.settings).toEqual({ temperature: 2, topK: 10, live: false });
    expect(r.prompt).toBe('Once');
    expect(r.model).toBe('served:quantlab-tiny');
    expect(r.messages).toHaveLength(1);
  });

  it('applies defaults, then storage, then the URL', () => {
    const stored = settingsFromStored({ settings: { temperature: 1.5, seed: 9 }, prompt: 'stored prompt' });
    const url = settingsFromQuery('temperature=0.7');
    const m = mergeSettings(stored, url);
    expect(m.settings).toEqual({ ...DEFAULT_SETTINGS, temperature: 0.7, seed: 9 });
    expect(m.prompt).toBe('stored prompt');
  });

  it('parses model keys', () => {
    expect(parseRefKey('hub:HuggingFaceTB/SmolLM2-135M-Instruct')).toEqual({
      kind: 'hub',
      id: 'HuggingFaceTB/SmolLM2-135M-Instruct',
    });
    expect(parseRefKey('local:x')).toEqual({ kind: 'local', id: 'x' });
    expect(parseRefKey('ftp:x')).toBeUndefined();
    expect(parseRefKey('hub:')).toBeUndefined();
  });
});

describe('memory budget setting', () => {
  it('is kept in storage, read from a URL, and never written into a share link', () => {
    expect(DEFAULT_SETTINGS.memoryBudgetMb).toBe(0);
    expect(settingsFromStored({ settings: { memoryBudgetMb: 1536 } }).settings.memoryBudgetMb).toBe(1536);
    expect(settingsFromQuery('memory_budget=300').settings.memoryBudgetMb).toBe(300);
    const q = settingsToQuery({ ...DEFAULT_SETTINGS, memoryBudgetMb: 700 });
    expect(new URLSearchParams(q).has('memory_budget')).toBe(false);
    expect(q).not.toContain('700');
  });

  it('rounds to whole MB and falls back to automatic on garbage, saying so', () => {
    expect(checkMemoryBudget('512')).toEqual({ value: 512 });
    expect(checkMemoryBudget(0)).toEqual({ value: 0 });
    expect(checkMemoryBudget(100.6)).toEqual({ value: 101, message: 'Memory budget: using 101 MB (got 100.6).' });
    const bad = checkMemoryBudget('lots');
    expect(bad.value).toBe(0);
    expect(bad.message).toMatch(/"lots" is not a number of MB; using automatic/);
    expect(checkMemoryBudget(-5).value).toBe(0);
  });
});

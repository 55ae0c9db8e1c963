// Preset links (src/lib/page/preset-url.ts): ?preset=<id> with an optional size, read back with a
// message for anything unknown or out of range, and written over an existing share link.
import { describe, expect, it } from 'vitest';
import { presetFromQuery, presetUrl } from '../../src/lib/page/preset-url';

describe('preset links', () => {
  it('reads a preset and its size', () => {
    expect(presetFromQuery('?model=served:aidreams260K&preset=temperature&preset_runs=2&preset_tokens=6')).toEqual({
      request: { id: 'temperature', size: { runs: 2, tokens: 6 } },
      messages: [],
    });
    expect(presetFromQuery('?preset=nf4-fp4')).toEqual({ request: { id: 'nf4-fp4', size: {} }, messages: [] });
    expect(presetFromQuery('?seed=4')).toEqual({ messages: [] });
  });

  it('runs nothing for an unknown preset, and says which exist', () => {
    const r = presetFromQuery('?preset=bogus');
    expect(r.request).toBeUndefined();
    expect(r.messages).toEqual([
      'Guided experiment "bogus" is not one of temperature, nf4-fp4, size-matched, methods; nothing was run.',
    ]);
  });

  it('clamps a size out of range and names it', () => {
    const r = presetFromQuery('?preset=temperature&preset_runs=1000&preset_tokens=abc');
    expect(r.request?.size).toEqual({ runs: 32, tokens: 32 });
    expect(r.messages).toEqual([
      'Seeds per temperature: 1000 is outside 2 to 32 (or not whole); using 32.',
      'New tokens per run: "abc" is not a number; using 32.',
    ]);
  });

  it('writes the preset over a share link, keeping its other settings', () => {
    const url = presetUrl('http://h/app/?model=served%3Aaidreams260K&seed=4&preset=methods', 'temperature', {
      runs: 3,
      tokens: 9,
    });
    const q = new URL(url).searchParams;
    expect([q.get('model'), q.get('seed'), q.getAll('preset'), q.get('preset_runs'), q.get('preset_tokens')]).toEqual([
      'served:aidreams260K',
      '4',
      ['temperature'],
      '3',
      '9',
    ]);
    expect(presetFromQuery(new URL(url).search).request).toEqual({ id: 'temperature', size: { runs: 3, tokens: 9 } });
    expect(new URL(presetUrl(url, 'nf4-fp4')).searchParams.get('preset_runs')).toBeNull();
  });
});

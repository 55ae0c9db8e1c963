// The columns' live-region sentence: grouped by status, errors first, quiet while idle.
import { describe, expect, it } from 'vitest';
import { columnsAnnouncement, listWords } from '../../src/lib/page/announce';

describe('columnsAnnouncement', () => {
  it('groups the columns by status, failures first, with token counts when done', () => {
    expect(
      columnsAnnouncement([
        { label: 'fp32', status: 'done', tokens: 64 },
        { label: 'q8', status: 'generating', tokens: 10 },
        { label: 'q4', status: 'error', tokens: 0 },
        { label: 'bnb4', status: 'generating', tokens: 3 },
      ]),
    ).toBe('q4 failed. q8 and bnb4 generating. fp32 (64 tokens) done.');
  });

  it('says nothing while every column is idle, and does not change with the token count while generating', () => {
    expect(columnsAnnouncement([{ label: 'fp32', status: 'idle', tokens: 0 }])).toBe('');
    expect(columnsAnnouncement([])).toBe('');
    const at = (tokens: number) => columnsAnnouncement([{ label: 'fp32', status: 'generating', tokens }]);
    expect(at(1)).toBe(at(50));
  });

  it('lists words as a sentence does', () => {
    expect([listWords([]), listWords(['a']), listWords(['a', 'b']), listWords(['a', 'b', 'c'])]).toEqual([
      '',
      'a',
      'a and b',
      'a, b and c',
    ]);
  });
});

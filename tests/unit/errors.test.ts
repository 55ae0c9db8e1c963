// describeError: every place that shows an error joins its message and detail through it, so two
// sentences never run together ("... dim = -845788986 QuantLab reads ...").
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TOKENIZER } from '../helpers/aidreams';
import { runCli } from '../helpers/cli';
import { cleanupTempDirs, tempDir } from '../helpers/model-dirs';
import { asSentence, describeError, QuantlabError } from '../../src/lib/errors';
import { parseLlama2cHeader } from '../../src/lib/import/llama2c';

describe('asSentence', () => {
  it('adds a full stop where the text does not end a sentence', () => {
    expect(asSentence('header field dim = -845788986')).toBe('header field dim = -845788986.');
    expect(asSentence('  trailing space  ')).toBe('trailing space.');
    expect(asSentence('ends with a colon:')).toBe('ends with a colon.');
  });
  it('keeps an ending that is one already', () => {
    expect(asSentence('Done.')).toBe('Done.');
    expect(asSentence('Really?')).toBe('Really?');
    expect(asSentence('Run "quantlab --help."')).toBe('Run "quantlab --help."');
    expect(asSentence('(see the docs.)')).toBe('(see the docs.)');
    expect(asSentence('')).toBe('');
  });
});

describe('describeError', () => {
  it('joins message and detail as two sentences', () => {
    expect(describeError({ message: 'File is bad', detail: 'Download it again' })).toBe(
      'File is bad. Download it again.',
    );
    expect(describeError({ message: 'File is bad.', detail: 'Download it again.' })).toBe(
      'File is bad. Download it again.',
    );
  });
  it('is the message alone without a detail', () => {
    expect(describeError({ message: 'Cancelled' })).toBe('Cancelled.');
    expect(describeError({ message: 'Cancelled', detail: '' })).toBe('Cancelled.');
  });
  it('takes the separator the caller wants', () => {
    expect(describeError({ message: 'Unknown command "x"', detail: "Run 'quantlab --help'" }, '\n  ')).toBe(
      'Unknown command "x".\n  Run \'quantlab --help\'.',
    );
  });
  it('reads a corrupt llama2.c checkpoint as two sentences', () => {
    const bytes = new Uint8Array(64);
    new DataView(bytes.buffer).setInt32(0, -845788986, true);
    let err: unknown;
    try {
      parseLlama2cHeader(bytes, 'broken.bin');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(QuantlabError);
    const text = describeError(err as QuantlabError);
    expect(text).toContain('header field dim = -845788986. QuantLab reads the version-0');
    expect(text).not.toMatch(/-845788986 QuantLab/);
    expect(text.endsWith('.')).toBe(true);
  });
});

describe('errors as the CLI prints them', () => {
  afterAll(cleanupTempDirs);
  it('ends the message with a full stop and puts the detail on its own line', async () => {
    const dir = tempDir();
    const broken = join(dir, 'broken.bin');
    const header = new Uint8Array(64);
    new DataView(header.buffer).setInt32(0, -845788986, true);
    writeFileSync(broken, header);
    const r = await runCli(['import', broken, '--tokenizer', TOKENIZER, '--out', join(dir, 'out'), '--quiet']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('header field dim = -845788986.\n  QuantLab reads the version-0');
  });
});

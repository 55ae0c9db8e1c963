// The chat-template toggle on a model without a template: the runner names the problem and what to
// do, instead of passing on transformers.js's error (which ends in a documentation URL).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QuantlabError } from '../../src/lib/errors';
import { Runner } from '../../src/lib/runner/runner';
import { configureNodeTransformers } from '../../src/node/transformers-env';
import { aidreamsSource, cleanupTempDirs, writeModel } from '../helpers/model-dirs';

const greedy = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: 0, maxNewTokens: 2 };

describe('chat template', () => {
  const plain = new Runner();
  const chat = new Runner();
  beforeAll(async () => {
    configureNodeTransformers({ allowRemote: false });
    const dir = await writeModel(aidreamsSource(), 'plain');
    await plain.load({ modelId: dir, variant: 'model', device: 'cpu' });
    // The same model with a (trivial) chat template in its tokenizer_config.json.
    const withChat = await writeModel(aidreamsSource(), 'chat');
    const cfgPath = join(withChat, 'tokenizer_config.json');
    const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
    cfg.chat_template = '{% for m in messages %}User: {{ m.content }}\n{% endfor %}Assistant:';
    writeFileSync(cfgPath, JSON.stringify(cfg));
    await chat.load({ modelId: withChat, variant: 'model', device: 'cpu' });
  }, 60_000);
  afterAll(async () => {
    await plain.dispose();
    await chat.dispose();
    cleanupTempDirs();
  });

  it('says a model has no chat template, in words and without a URL', async () => {
    expect(plain.hasChatTemplate).toBe(false);
    const err = await plain.generate({ ...greedy, prompt: 'Once', chatTemplate: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QuantlabError);
    const e = err as QuantlabError;
    expect(e.code).toBe('bad-argument');
    expect(e.message).toMatch(/This model has no chat template/);
    expect(e.detail).toMatch(/plain text/);
    expect(`${e.message} ${e.detail}`).not.toMatch(/https?:|apply_chat_template/);
  });

  it('still generates from the plain prompt without the toggle', async () => {
    const r = await plain.generate({ ...greedy, prompt: 'Once' });
    expect(r.ids.length).toBeGreaterThan(0);
  });

  it('applies a template the tokenizer has', () => {
    expect(chat.hasChatTemplate).toBe(true);
    const withTemplate = chat.encode('Once', true);
    expect(chat.decode(withTemplate)).toContain('User: Once');
    expect(withTemplate.length).toBeGreaterThan(chat.encode('Once').length);
  });
});

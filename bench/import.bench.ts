// Benchmark (not a test): how long `quantlab import` takes for the SmolLM2-135M-shaped fixture,
// from a bf16 safetensors folder (as the Hub ships SmolLM2) to a written transformers.js folder.
// Run: npm run bench:import [-- --runs 3 --dtype BF16|F32]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { toHfConfig } from '../src/lib/model/config';
import { buildModelFolder } from '../src/lib/model/folder';
import { SMOLLM2_135M_SHAPE } from '../src/lib/model/tiny';
import { hfSource, tinySource } from '../src/lib/import/sources';
import { writeSafetensors } from '../src/lib/import/safetensors';
import { nodeReader, writeFolderAtomic } from '../src/node/files';
import { median } from '../src/lib/bench/stats';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '3' }, dtype: { type: 'string', default: 'BF16' } },
});
const runs = Number(values.runs);
const dtype = values.dtype as 'BF16' | 'F32';
const root = mkdtempSync(join(tmpdir(), 'quantlab-bench-'));

try {
  const t = performance.now();
  const src = tinySource(SMOLLM2_135M_SHAPE, 0);
  const hf = join(root, 'hf');
  mkdirSync(hf);
  const tensors = new Map([...src.weights].map(([name, w]) => [name, { ...w, dtype }]));
  writeFileSync(join(hf, 'model.safetensors'), writeSafetensors(tensors));
  writeFileSync(join(hf, 'config.json'), JSON.stringify(toHfConfig(src.config)));
  writeFileSync(join(hf, 'tokenizer.json'), JSON.stringify(src.tokenizerJson));
  writeFileSync(join(hf, 'tokenizer_config.json'), JSON.stringify(src.tokenizerConfig));
  const params = [...src.weights.values()].reduce((a, w) => a + w.data.length, 0);
  console.log(
    `fixture: SmolLM2-135M shape, ${(params / 1e6).toFixed(1)}M parameters, ${dtype} safetensors, built in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );

  const phases: Record<string, number[]> = { read: [], build: [], write: [], total: [] };
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const s = await hfSource(nodeReader(hf));
    const t1 = performance.now();
    const files = await buildModelFolder(s);
    const t2 = performance.now();
    await writeFolderAtomic(join(root, `out${i}`), files);
    const t3 = performance.now();
    phases.read.push(t1 - t0);
    phases.build.push(t2 - t1);
    phases.write.push(t3 - t2);
    phases.total.push(t3 - t0);
    const bytes = [...files.values()].reduce((a, f) => a + f.byteLength, 0);
    console.log(
      `run ${i + 1}: read+convert ${(t1 - t0).toFixed(0)} ms, graph+encode ${(t2 - t1).toFixed(0)} ms, write ${(t3 - t2).toFixed(0)} ms, total ${(t3 - t0).toFixed(0)} ms (${(bytes / 1e6).toFixed(1)} MB)`,
    );
    rmSync(join(root, `out${i}`), { recursive: true });
  }
  console.log(
    `median of ${runs}: ` +
      Object.entries(phases)
        .map(([k, v]) => `${k} ${(median(v) / 1000).toFixed(2)} s`)
        .join(', '),
  );
  console.log(`peak RSS ${(process.memoryUsage().rss / 1e9).toFixed(2)} GB`);
} finally {
  rmSync(root, { recursive: true, force: true });
}

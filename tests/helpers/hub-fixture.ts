// The fixture repository the test Hub mirror serves: aidreams260K (a real trained tiny Llama,
// llama2.c format) converted by the quantlab CLI into a Hub-layout folder (config.json, tokenizer
// files, onnx/model.onnx and every quantized variant), built once per test process.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CHECKPOINT, TOKENIZER } from './aidreams';
import { runCli } from './cli';
import { tempDir } from './model-dirs';

/** The repository id tests register the fixture under. */
export const AIDREAMS_REPO = 'quantlab-test/aidreams260K';

let built: Promise<string> | undefined;

async function build(): Promise<string> {
  const dir = join(tempDir('quantlab-hub-'), 'aidreams260K');
  const imp = await runCli(['import', CHECKPOINT, '--tokenizer', TOKENIZER, '--out', dir, '--quiet']);
  if (imp.code !== 0) throw new Error(`quantlab import failed: ${imp.err}`);
  const q = await runCli(['quantize', dir, '--dtype', 'all', '--quiet']);
  if (q.code !== 0) throw new Error(`quantlab quantize failed: ${q.err}`);
  return dir;
}

/**
 * The aidreams260K Hub-layout folder (fp32 plus every precision `quantize --dtype all` writes),
 * built on first use and shared by the rest of the process. Removed by cleanupTempDirs().
 */
export async function aidreamsHubFolder(): Promise<string> {
  built ??= build();
  const dir = await built;
  if (existsSync(dir)) return dir;
  built = build(); // removed by cleanupTempDirs() since
  return built;
}

// Opens a Hub repository by id from the page: lists its onnx/ folder through the host's tree API,
// reads config.json's model_type (and QuantLab's manifest when the repository has one), and turns
// them into the precisions the page offers. Every failure comes back as a named HubProblem
// (src/lib/hub/problems.ts), never as a thrown error.

import { checkArchitecture, SUPPORTED_MODEL_TYPES } from '../lib/hub/architectures';
import { hubFileUrl, hubTreeUrl } from '../lib/hub/host';
import { parseTree, variantsFromTree } from '../lib/hub/listing';
import {
  badAnswer,
  classifyAnswer,
  unreachable,
  unsupportedArchitecture,
  type HubAnswer,
  type HubProblem,
} from '../lib/hub/problems';
import { MANIFEST_PATH } from '../lib/variants/manifest';
import type { VariantInfo } from '../lib/variants/table';

/** What a repository offers, as listed by its host. */
export interface HubListing {
  id: string;
  host: string;
  modelType: string;
  variants: VariantInfo[];
}

export type HubListingResult = { listing: HubListing } | { problem: HubProblem };

async function answerOf(res: Response): Promise<HubAnswer> {
  const text = await res.text().catch(() => '');
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return {
    status: res.status,
    errorCode: res.headers.get('x-error-code'),
    errorMessage: res.headers.get('x-error-message'),
    body,
  };
}

/** Lists repository `id` (already checked with parseRepoId) on `host` (already checked with checkHost). */
export async function listHubRepo(
  host: string,
  id: string,
  fetchFn: typeof fetch = (...a) => fetch(...a),
): Promise<HubListingResult> {
  const get = async (url: string): Promise<Response | HubProblem> => {
    try {
      return await fetchFn(url, { headers: { Accept: 'application/json' } });
    } catch (err) {
      return unreachable(host, id, (err as Error).message || String(err));
    }
  };
  const isProblem = (r: Response | HubProblem): r is HubProblem => !(r instanceof Response);

  const tree = await get(hubTreeUrl(host, id, 'onnx'));
  if (isProblem(tree)) return { problem: tree };
  if (!tree.ok) {
    const a = await answerOf(tree);
    if (a.status !== 404 || a.errorCode)
      return { problem: classifyAnswer(host, id, 'the listing of onnx/', a, 'entry') };
    // A bare 404 (a mirror without the Hub's error codes): missing repository or missing folder?
    const root = await get(hubTreeUrl(host, id));
    if (isProblem(root)) return { problem: root };
    const missing = root.ok ? 'entry' : 'repo';
    return { problem: classifyAnswer(host, id, 'the listing of onnx/', root.ok ? a : await answerOf(root), missing) };
  }
  const entries = parseTree(await tree.json().catch(() => undefined));
  if (!entries) return { problem: badAnswer(host, id, 'the listing of onnx/', 'not a JSON list of files') };
  const listed = variantsFromTree(id, entries);
  if ('problem' in listed) return { problem: { kind: 'no-onnx', message: listed.problem, detail: listed.detail } };

  const configRes = await get(hubFileUrl(host, id, 'config.json'));
  if (isProblem(configRes)) return { problem: configRes };
  if (configRes.status === 404)
    return {
      problem: unsupportedArchitecture(
        id,
        'it has no config.json, so its architecture is unknown',
        SUPPORTED_MODEL_TYPES,
      ),
    };
  if (!configRes.ok) return { problem: classifyAnswer(host, id, 'config.json', await answerOf(configRes)) };
  const config = await configRes.json().catch(() => undefined);
  if (config === undefined)
    return { problem: unsupportedArchitecture(id, 'its config.json is not JSON', SUPPORTED_MODEL_TYPES) };
  const arch = checkArchitecture(config);
  if ('problem' in arch) return { problem: unsupportedArchitecture(id, arch.problem, SUPPORTED_MODEL_TYPES) };

  let variants = listed.variants;
  if (listed.hasManifest) {
    // QuantLab's own repositories label their variants (format, measured bits); optional.
    const m = await get(hubFileUrl(host, id, MANIFEST_PATH));
    const manifest = !isProblem(m) && m.ok ? await m.json().catch(() => undefined) : undefined;
    if (manifest !== undefined) {
      const labelled = variantsFromTree(id, entries, manifest);
      if ('variants' in labelled) variants = labelled.variants;
    }
  }
  return { listing: { id, host, modelType: arch.modelType, variants } };
}

// Named problems with opening a Hub repository by id, each a message that says what was asked,
// what the host answered and what to try. The Hub's answers are read as huggingface_hub reads
// them (hf_raise_for_status): the X-Error-Code header first (RepoNotFound, GatedRepo,
// EntryNotFound, RevisionNotFound), then the status; an anonymous client (the page never signs
// in) gets 401 for missing and private repositories alike, a signed-in one 404.

import { DEFAULT_HUB_HOST } from './host';
import { QuantlabError } from '../errors';

/** What went wrong, as tests and the page's data-kind attribute name it. */
export type HubProblemKind =
  | 'malformed-id'
  | 'bad-host'
  | 'not-found'
  | 'gated'
  | 'no-onnx'
  | 'unsupported-architecture'
  | 'unreachable'
  | 'host-error'
  | 'bad-answer';

export interface HubProblem {
  kind: HubProblemKind;
  message: string;
  detail: string;
}

/** An HTTP answer, as much of it as the classification reads. */
export interface HubAnswer {
  status: number;
  /** X-Error-Code header. */
  errorCode?: string | null;
  /** X-Error-Message header. */
  errorMessage?: string | null;
  /** The body's `error` field (a string or a list of them) when the body is JSON, else its text. */
  body?: unknown;
}

/** The server's own words from an error answer: the X-Error-Message header or the body's `error`. */
export function serverMessage(a: HubAnswer): string {
  const body = a.body;
  let fromBody = '';
  if (typeof body === 'string') fromBody = body;
  else if (body && typeof body === 'object' && 'error' in body) {
    const e = (body as { error: unknown }).error;
    fromBody = Array.isArray(e) ? e.join('; ') : typeof e === 'string' ? e : '';
  }
  const text = (fromBody || a.errorMessage || '').replace(/\s+/g, ' ').trim();
  return text.length > 200 ? `${text.slice(0, 199)}…` : text;
}

/** "401 RepoNotFound: “Repository not found”" */
export function describeAnswer(a: HubAnswer): string {
  const words = serverMessage(a);
  return `${a.status}${a.errorCode ? ` ${a.errorCode}` : ''}${words ? `: “${words}”` : ''}`;
}

/**
 * Names a failed answer to a request about repository `id` on `host` (`what` says which request,
 * e.g. "the listing of onnx/"). A 404 without the Hub's error code is ambiguous (missing repository
 * or missing folder): `missing` says which one the caller found it to be.
 */
export function classifyAnswer(
  host: string,
  id: string,
  what: string,
  a: HubAnswer,
  missing: 'repo' | 'entry' = 'repo',
): HubProblem {
  const answered = `${host} answered ${describeAnswer(a)}`;
  if (a.errorCode === 'GatedRepo')
    return {
      kind: 'gated',
      message: `${id} is a gated repository: ${answered}`,
      detail:
        'Its files are only served to signed-in users who accepted its terms, and QuantLab cannot sign in. Pick an ungated copy of the model (e.g. under onnx-community/), or set Model host to a mirror that serves it.',
    };
  if (
    a.errorCode === 'RepoNotFound' ||
    (a.status === 401 && !a.errorCode) ||
    (a.status === 404 && !a.errorCode && missing === 'repo')
  )
    return {
      kind: 'not-found',
      message: `${host} has no public repository ${id}: ${answered}`,
      detail: `Check the id (owner/name, as in the address ${host}/${id}; letters' case matters). A private repository looks missing too: QuantLab cannot sign in, so only public repositories open.`,
    };
  if (a.errorCode === 'EntryNotFound' || a.status === 404)
    return {
      kind: 'no-onnx',
      message: `${id} has no ${what.replace(/^the listing of /, '')} on ${host} (${describeAnswer(a)})`,
      detail:
        'QuantLab runs transformers.js exports, which keep their ONNX files in onnx/. Look for a transformers.js copy of this model (often under onnx-community/), or open its safetensors folder with "Open folder…" to convert it here.',
    };
  if (a.status >= 500)
    return {
      kind: 'host-error',
      message: `${host} failed on ${what} of ${id}: it answered ${describeAnswer(a)}`,
      detail: 'The host had a problem of its own. Try again in a moment, or set Model host to another mirror.',
    };
  return {
    kind: 'host-error',
    message: `${host} refused ${what} of ${id}: it answered ${describeAnswer(a)}`,
    detail: `Check that the Model host (${host}) is a Hugging Face Hub or a mirror of it.`,
  };
}

/** The request never got an answer (fetch threw: no network, host down, CORS refused). */
export function unreachable(host: string, id: string, error: string): HubProblem {
  return {
    kind: 'unreachable',
    message: `Could not reach ${host} to list ${id} (${error})`,
    detail: `Check your connection. If this network cannot reach ${host}, set Model host to a mirror of the Hub that it can reach; a mirror must also allow requests from this page (CORS).`,
  };
}

/** The host answered 200 with something that is not what the Hub sends. */
export function badAnswer(host: string, id: string, what: string, found: string): HubProblem {
  return {
    kind: 'bad-answer',
    message: `${host} did not answer ${what} of ${id} as the Hub does (${found})`,
    detail: `Check that the Model host (${host}) is a Hugging Face Hub or a mirror of it, with its /api/models/…/tree/ listing.`,
  };
}

/** config.json names a model_type the runner cannot drive (or none). */
export function unsupportedArchitecture(id: string, why: string, supported: readonly string[]): HubProblem {
  return {
    kind: 'unsupported-architecture',
    message: `${id} cannot run here: ${why}`,
    detail: `QuantLab runs decoder-only text models with a standard KV cache: ${supported.join(', ')}. Pick a repository of one of those.`,
  };
}

/**
 * A column's load error, worded for its Model host: the runner's 'offline' error speaks of the
 * Hugging Face Hub, which is wrong when the files come from a mirror. Other errors pass as they are.
 */
export function atModelHost(err: unknown, id: string, host: string | undefined): unknown {
  if (!(err instanceof QuantlabError) || err.code !== 'offline' || !host || host === DEFAULT_HUB_HOST) return err;
  return new QuantlabError(
    'offline',
    `Could not reach the Model host ${host} to load ${id}`,
    `Check that the mirror is up and that this network reaches it, or set Model host to another mirror (${DEFAULT_HUB_HOST} is the Hub itself). Files already in this browser's cache still load.`,
  );
}

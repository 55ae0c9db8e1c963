// What went wrong with a download, from what the client saw (an HTTP status, or how many bytes
// came before the body ended or broke), and the message a column shows for it: which file, which
// host, and what to do. Files read in full before a fault stay in the browser cache, so Retry
// fetches only what is missing; the messages say so.

import type { ErrorInfo } from '../errors';
import { formatBytes } from '../variants/info';
import { hostLabel, parseHubUrl } from './hub-file';
import { formatPart } from './progress';

export type DownloadFault =
  /** The host answered with an error status. */
  | { kind: 'status'; url: string; status: number }
  /**
   * fetch() itself failed: no answer (offline, a wrong Model host, a refused connection), or, as
   * Chromium reports it, a connection that broke before the response reached the page.
   */
  | { kind: 'unreachable'; url: string; reason?: string }
  /** The body broke off with an error after `received` bytes (a dropped connection; Chromium also reports a body shorter than its content-length this way). */
  | { kind: 'dropped'; url: string; received: number; expected: number }
  /** The body ended cleanly with fewer bytes than the content-length announced. */
  | { kind: 'truncated'; url: string; received: number; expected: number };

/**
 * How a body that stopped compares with what was announced: undefined when it is whole (or no
 * length was announced and it ended cleanly), else the fault.
 */
export function checkBody(
  url: string,
  received: number,
  expected: number,
  ended: 'done' | 'error',
): DownloadFault | undefined {
  if (ended === 'error') return { kind: 'dropped', url, received, expected };
  if (expected > 0 && received < expected) return { kind: 'truncated', url, received, expected };
  return undefined;
}

const KEPT =
  'Files downloaded in full before this are kept in the browser cache, so Retry fetches only what is missing.';

/** The column's message for a download fault: what happened to which file on which host, and what to do. */
export function describeFault(f: DownloadFault): ErrorInfo {
  const hub = parseHubUrl(f.url);
  const file = hub ? hub.path : f.url;
  const of = hub ? ` of ${hub.repo}` : '';
  const host = hub ? hostLabel(hub.host) : hostOf(f.url);
  switch (f.kind) {
    case 'status':
      if (f.status === 404)
        return {
          code: 'load-failed',
          message: `${file}${of} was not found on ${host} (HTTP 404)`,
          detail: `Check the model id and precision, and the Model host (${host}): a mirror may not have this file. ${KEPT}`,
        };
      if (f.status === 401 || f.status === 403)
        return {
          code: 'load-failed',
          message: `${host} refused ${file}${of} (HTTP ${f.status}): the repository is private, gated or does not exist`,
          detail: 'QuantLab cannot sign in to a host: pick a public repository, or check the model id.',
        };
      if (f.status >= 500)
        return {
          code: 'load-failed',
          message: `${host} failed to send ${file}${of} (HTTP ${f.status}, a server error on its side)`,
          detail: `Try again later with Retry. ${KEPT}`,
        };
      return {
        code: 'load-failed',
        message: `${host} answered HTTP ${f.status} for ${file}${of}`,
        detail: `Check the Model host setting, then press Retry. ${KEPT}`,
      };
    case 'unreachable':
      return {
        code: 'offline',
        message: `Could not reach ${host === 'huggingface.co' ? 'the Hugging Face Hub' : host} to load ${hub ? hub.repo : file} (no answer for ${file}${f.reason ? `: ${f.reason}` : ''})`,
        detail: `You seem to be offline, or the Model host is wrong or down. Check the connection, then press Retry (files downloaded in full are kept). Open a local model instead (the built-in tiny model, or a model folder or llama2.c checkpoint from your disk).`,
      };
    case 'dropped':
      return {
        code: 'load-failed',
        message: `The download of ${file}${of} from ${host} broke off after ${part(f.received, f.expected)} (the connection dropped, or the host sent less than it announced)`,
        detail: `Nothing of this file was kept. Check the connection, then press Retry. ${KEPT}`,
      };
    case 'truncated':
      return {
        code: 'load-failed',
        message: `${host} sent only ${part(f.received, f.expected)} of ${file}${of}: the file is truncated`,
        detail: `The partial file was not kept. Press Retry; if it happens again, the host or a proxy is cutting downloads short. ${KEPT}`,
      };
  }
}

function part(received: number, expected: number): string {
  return expected > 0 ? formatPart(received, expected) : formatBytes(received);
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/**
 * The fault in a transformers.js load error that names a Hub file by status (its
 * ModelFileNotFoundError: `status` set, the URL quoted in the message), or undefined.
 */
export function faultOfHubError(err: unknown): DownloadFault | undefined {
  if (!(err instanceof Error)) return undefined;
  const status = (err as { status?: unknown }).status;
  const url = /"(https?:\/\/[^"]+)"/.exec(err.message)?.[1];
  return typeof status === 'number' && url ? { kind: 'status', url, status } : undefined;
}

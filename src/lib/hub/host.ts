// The Model host: where every Hub request goes (transformers.js's file downloads and the tree API).
// Users behind a mirror of the Hub set it once; it is checked here, and the Hub's URLs for a
// repository are built here from it, so the page and the workers agree on them.

/** The Hugging Face Hub. */
export const DEFAULT_HUB_HOST = 'https://huggingface.co';

/** A checked host, or why the text is not one. */
export type HostCheck = { host: string } | { problem: string };

/**
 * Checks a Model host: an absolute http(s) URL without query, fragment or credentials. Returns it
 * normalised (no trailing slash; a path prefix such as https://example.org/hf is kept).
 */
export function checkHost(raw: unknown): HostCheck {
  const text = typeof raw === 'string' ? raw.trim() : '';
  const example = `like ${DEFAULT_HUB_HOST} or http://127.0.0.1:8080`;
  if (text === '') return { problem: `Model host is empty: give the address of the Hub or of a mirror, ${example}.` };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { problem: `Model host "${text}" is not a URL: write it with http:// or https://, ${example}.` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return {
      problem: `Model host "${text}" is a ${url.protocol} address: only http:// and https:// hosts serve models.`,
    };
  if (url.username || url.password)
    return { problem: `Model host "${text}" carries a user name or password: QuantLab cannot sign in; remove them.` };
  if (url.search || url.hash)
    return { problem: `Model host "${text}" has a query or fragment (?… or #…): give the host's base address only.` };
  return { host: `${url.origin}${url.pathname.replace(/\/+$/, '')}` };
}

const enc = (path: string) => path.split('/').map(encodeURIComponent).join('/');

/** `{host}/{id}/resolve/{revision}/{path}`: a file as transformers.js downloads it. */
export function hubFileUrl(host: string, id: string, path: string, revision = 'main'): string {
  return `${host}/${id}/resolve/${encodeURIComponent(revision)}/${enc(path)}`;
}

/** `{host}/api/models/{id}/tree/{revision}/{folder}`: the Hub's listing of one folder (root when empty). */
export function hubTreeUrl(host: string, id: string, folder = '', revision = 'main'): string {
  return `${host}/api/models/${id}/tree/${encodeURIComponent(revision)}${folder ? `/${enc(folder)}` : ''}`;
}

/** transformers.js's env.remoteHost for a host (it joins paths after it). */
export function transformersRemoteHost(host: string | undefined): string {
  return `${host ?? DEFAULT_HUB_HOST}/`;
}

// Which file of which repository a Hub download URL names. transformers.js and the Hub build file
// URLs as `{host}/{owner}/{name}/resolve/{revision}/{path}` (the host may carry a path prefix, as
// a mirror's does); the progress lines, the error messages and the Storage panel read them back here.

export interface HubFile {
  /** The host as the user would recognise it: origin plus any path prefix, e.g. https://huggingface.co. */
  host: string;
  /** owner/name */
  repo: string;
  revision: string;
  /** Path inside the repository, e.g. onnx/model_q4.onnx. */
  path: string;
}

/** The parts of a `…/{owner}/{name}/resolve/{revision}/{path}` URL, or undefined for any other URL. */
export function parseHubUrl(url: string): HubFile | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  const parts = u.pathname.split('/');
  // The last 'resolve' with an owner and name before it and a revision and a path after it.
  for (let i = parts.length - 3; i >= 3; i--) {
    if (parts[i] !== 'resolve') continue;
    try {
      const dec = (s: string) => decodeURIComponent(s);
      return {
        host: u.origin + parts.slice(0, i - 2).join('/'),
        repo: `${dec(parts[i - 2])}/${dec(parts[i - 1])}`,
        revision: dec(parts[i + 1]),
        path: parts
          .slice(i + 2)
          .map(dec)
          .join('/'),
      };
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** The host's short name for messages: "huggingface.co", "127.0.0.1:8080", "example.org/hf". */
export function hostLabel(host: string): string {
  return host.replace(/^https?:\/\//, '');
}

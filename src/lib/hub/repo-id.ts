// Reads what a user types as a Hub repository: `owner/name`, also a pasted Hub address
// (https://huggingface.co/owner/name/...) or the share-link form `hub:owner/name`. The rules are
// the Hub's own (huggingface_hub's validate_repo_id): letters, digits, '.', '_' and '-', a name of
// at most 96 characters, no '--' or '..', not ending in '.git'.

/** A repository id, or why the text is not one. */
export type RepoIdCheck = { id: string } | { problem: string; detail: string };

const PART = /^\w(?:[\w.-]*\w)?$/;
const EXAMPLE = 'HuggingFaceTB/SmolLM2-135M-Instruct';

/** Checks a repository id, taking it out of a pasted Hub address or a `hub:` key first. */
export function parseRepoId(raw: string): RepoIdCheck {
  let text = raw.trim();
  const bad = (why: string): RepoIdCheck => ({
    problem: `"${raw.trim()}" is not a Hub repository id: ${why}`,
    detail: `Write it as owner/name, e.g. ${EXAMPLE} (letters, digits, '.', '_' and '-').`,
  });
  if (text === '') return bad('it is empty');
  if (text.startsWith('hub:')) text = text.slice(4);
  const url = /^https?:\/\/[^/]+\/(.*)$/.exec(text);
  if (url) {
    // https://huggingface.co/owner/name[/tree/main/onnx | /resolve/... | /blob/...]
    text = url[1]
      .replace(/^models\//, '')
      .replace(/\/(tree|resolve|blob)\/.*$/, '')
      .replace(/\/+$/, '');
  }
  const parts = text.split('/');
  if (parts.length !== 2) return bad(parts.length < 2 ? 'it has no owner (owner/name)' : 'it has more than one /');
  const [owner, name] = parts;
  for (const p of parts) {
    if (p === '') return bad('the owner or the name is empty');
    if (!PART.test(p))
      return bad(
        `"${p}" has characters other than letters, digits, '.', '_' and '-', or starts or ends with '.' or '-'`,
      );
    if (p.includes('--') || p.includes('..')) return bad(`"${p}" contains '--' or '..'`);
  }
  if (name.length > 96) return bad('the name is longer than 96 characters');
  if (name.endsWith('.git')) return bad("the name ends in '.git'");
  return { id: `${owner}/${name}` };
}

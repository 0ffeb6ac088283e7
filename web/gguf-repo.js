// Which GGUF file of a Hugging Face repo fits: the browser lists the repo (the Hub's tree API)
// and reads each file's header with Range requests, only when the user asks. The core says
// which bytes to ask for next (crates/vramfit-core formats::gguf_repo, the steps `vramfit fit
// ORG/NAME-GGUF` follows), keeps each model it read, and judges them (api.ggufTable).

const HUB = 'https://huggingface.co';
/** The largest tree listing read (the CLI's TREE_LIMIT). */
const TREE_LIMIT = 16 << 20;
/** Headers read at once. */
const PARALLEL = 4;

/** What went wrong reading the Hub (the message is for the user as it is). */
export class HubError extends Error {}

/** A revision as one path segment (refs/pr/1 → refs%2Fpr%2F1), as the CLI writes it. */
const revSegment = (rev) => rev.replace(/\//g, '%2F');

export function treeUrl(id, rev) {
  return `${HUB}/api/models/${id}/tree/${revSegment(rev)}?recursive=true`;
}

export function fileUrl(id, rev, path) {
  return `${HUB}/${id}/resolve/${revSegment(rev)}/${path.split('/').map(encodeURIComponent).join('/')}`;
}

/** Up to `limit` bytes of a response body (the rest is not downloaded). */
async function bodyUpTo(res, limit) {
  const reader = res.body.getReader();
  const chunks = [];
  let n = 0;
  while (n < limit) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    n += value.length;
  }
  if (n >= limit) reader.cancel().catch(() => {});
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.length; }
  return out;
}

/** A read stopped on purpose (a newer read) or by the time limit: not a file's error. */
const stopped = (e) => e.name === 'AbortError' || e.name === 'TimeoutError';

function httpError(what, res) {
  if (res.status === 401 || res.status === 403) return new HubError(`${what}: access refused (HTTP ${res.status}): the repo is gated or private`);
  if (res.status === 404) return new HubError(`${what}: not found (HTTP 404); check the repo id and revision`);
  return new HubError(`${what}: HTTP ${res.status} from the Hub`);
}

/**
 * List a repo's GGUF models and read every header. Resolves to
 * { repo, models: [{ name, parts, bytes, handle, header_bytes, file_type, error }], bytes, requests }
 * (bytes: received for the listing and the headers). A header that cannot be read is that
 * model's error; the listing failing rejects.
 */
export async function readRepo(api, id, rev, { onProgress = () => {}, signal } = {}) {
  const what = `${id}@${rev} file list`;
  let res;
  try {
    res = await fetch(treeUrl(id, rev), { credentials: 'omit', signal });
  } catch (e) {
    if (stopped(e)) throw e;
    throw new HubError(`cannot reach huggingface.co (${e.message})`);
  }
  if (!res.ok) throw httpError(what, res);
  const listingBytes = await bodyUpTo(res, TREE_LIMIT + 1);
  if (listingBytes.length > TREE_LIMIT) throw new HubError(`${what}: larger than ${TREE_LIMIT} bytes`);
  let bytes = listingBytes.length;
  let requests = 0;
  const listed = await api.ggufListing(new TextDecoder().decode(listingBytes));
  if (!listed.length) throw new HubError(`${id}@${rev} has no .gguf files`);
  await api.ggufClear();

  /** One part's header, read as the core's steps ask. */
  async function header(part) {
    let buf = new Uint8Array(0);
    for (;;) {
      let step;
      try {
        step = await api.ggufStep(part.size, buf);
      } catch (e) {
        // The header is malformed: named by its file, as the CLI names it.
        throw new HubError(`${part.path}: ${e.message}`);
      }
      if (step.done) return buf;
      const { start, end, need } = step.ask;
      requests += 1;
      let r;
      try {
        r = await fetch(fileUrl(id, rev, part.path), { credentials: 'omit', signal, headers: { Range: `bytes=${start}-${end}` } });
      } catch (e) {
        if (stopped(e)) throw e;
        throw new HubError(`${part.path}: cannot reach huggingface.co (${e.message})`);
      }
      if (!r.ok) throw httpError(part.path, r);
      // A server that ignores Range sends the whole file: read only up to what was asked.
      const ranged = r.status === 206;
      const got = await bodyUpTo(r, ranged ? end - start + 1 : end + 1);
      bytes += got.length;
      const more = ranged ? got : got.subarray(start);
      if (!more.length) throw new HubError(`${part.path}: gguf file is truncated: the header needs ${need} bytes, only ${start} are there`);
      const next = new Uint8Array(buf.length + more.length);
      next.set(buf, 0);
      next.set(more, buf.length);
      buf = next;
    }
  }

  const models = new Array(listed.length);
  let done = 0;
  async function readModel(i) {
    const m = listed[i];
    const heads = [];
    let error = null;
    for (const part of m.parts) {
      try {
        heads.push(await header(part));
      } catch (e) {
        if (stopped(e)) throw e;
        error = e.message;
        break;
      }
    }
    const all = new Uint8Array(heads.reduce((a, h) => a + h.length, 0));
    let at = 0;
    for (const h of heads) { all.set(h, at); at += h.length; }
    let answer;
    try {
      answer = await api.ggufModel({ repo: `${id}@${rev}`, name: m.name, parts: m.parts, lengths: heads.map((h) => h.length), error }, all);
    } catch (e) {
      answer = { handle: null, header_bytes: 0, file_type: null, error: e.message };
    }
    models[i] = { name: m.name, parts: m.parts.map((p) => p.path), bytes: m.bytes, ...answer };
    done += 1;
    onProgress({ done, total: listed.length, bytes, requests });
  }
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(PARALLEL, listed.length) }, async () => {
    while (next < listed.length) {
      const i = next;
      next += 1;
      await readModel(i);
    }
  }));
  return { repo: `${id}@${rev}`, models, bytes, requests };
}

// The vramfit core in the browser: load vramfit.wasm (built by web/build.sh) and call it.
// The module's interface is JSON text in, JSON text out (crates/vramfit-wasm): ask for an
// input buffer, copy the request's bytes into it, call, read the answer from its memory.

/** An error the core reported about the input (the message names the flag that fixes it). */
export class CoreError extends Error {}

/** Load the module; resolves to the functions of crates/vramfit-wasm/src/lib.rs. */
export async function load(url = new URL('vramfit.wasm', import.meta.url)) {
  let instance;
  try {
    ({ instance } = await WebAssembly.instantiateStreaming(fetch(url), {}));
  } catch {
    // A server that does not say application/wasm: compile from the bytes instead.
    const res = await fetch(url);
    if (!res.ok) throw new Error(`cannot load ${url}: HTTP ${res.status}`);
    ({ instance } = await WebAssembly.instantiate(await res.arrayBuffer(), {}));
  }
  const ex = instance.exports;
  const enc = new TextEncoder();
  const dec = new TextDecoder();

  function call(name, request) {
    return callBytes(name, enc.encode(request === undefined ? '' : JSON.stringify(request)));
  }

  // Text as it is (a Hub listing), not as a JSON string.
  function callText(name, text) {
    return callBytes(name, enc.encode(text));
  }

  // Binary input: the request's JSON, one NUL byte, then the bytes (GGUF headers).
  function callFramed(name, head, data) {
    const json = enc.encode(JSON.stringify(head));
    const bytes = new Uint8Array(json.length + 1 + data.length);
    bytes.set(json, 0);
    bytes.set(data, json.length + 1);
    return callBytes(name, bytes);
  }

  function callBytes(name, bytes) {
    const ptr = ex.vf_input(bytes.length);
    new Uint8Array(ex.memory.buffer, ptr, bytes.length).set(bytes);
    const n = ex[`vf_${name}`]();
    const answer = JSON.parse(dec.decode(new Uint8Array(ex.memory.buffer, ex.vf_output(), n)));
    if ('error' in answer) throw new CoreError(answer.error);
    return answer.ok;
  }

  return {
    info: () => call('info'),
    // The request's defaults and option lists (the core's tables).
    options: () => call('options'),
    models: () => call('models'),
    gpus: () => call('gpus'),
    gpu: (spec) => call('gpu', { gpu: spec }),
    model: (request) => call('model', request),
    estimate: (request) => call('estimate', request),
    sweep: (request, over, values) => call('sweep', { request, over, values }),
    // Ranked plans (the core's fit solver); null for a module built without it.
    fit: ex.vf_fit ? (request) => call('fit', request) : null,
    // Which GGUF file of a Hub repo fits (crates/vramfit-wasm: gguf_*): the page fetches,
    // the core says what to read next and judges each file.
    ggufListing: (text) => callText('gguf_listing', text),
    ggufStep: (size, bytes) => callFramed('gguf_step', { size }, bytes),
    ggufModel: (head, bytes) => callFramed('gguf_model', head, bytes),
    ggufClear: () => call('gguf_clear'),
    ggufTable: (request) => call('gguf_table', request),
  };
}

// The vramfit page: form → request → the wasm core → verdicts, charts, explanations.
// The form is the state; the URL's query string mirrors it (keys are the CLI's flag names),
// so a link reproduces a result, and the page shows the CLI command that prints the same JSON.

import { start, CoreError } from './core.js';
import { readRepo, HubError } from './gguf-repo.js';

const $ = (sel) => document.querySelector(sel);
const $$ = (sel) => [...document.querySelectorAll(sel)];
const GIB = 2 ** 30;
const gib = (bytes) => (bytes / GIB).toFixed(2);
const svgNS = 'http://www.w3.org/2000/svg';

// Workload inputs: element id = CLI flag = request key. `group` says when an input applies:
// all tasks, inference only, training only, LoRA-shaped methods only, or several GPUs.
const FIELDS = [
  { flag: 'task', kind: 'text', group: 'all' },
  { flag: 'batch', kind: 'int', group: 'all' },
  { flag: 'dtype', kind: 'text', group: 'all' },
  { flag: 'quant', kind: 'text', group: 'all' },
  { flag: 'attn', kind: 'text', group: 'all' },
  { flag: 'runtime', kind: 'text', group: 'all' },
  { flag: 'prompt', kind: 'int', group: 'infer' },
  { flag: 'new', kind: 'int', group: 'infer' },
  { flag: 'kv-dtype', kind: 'text', group: 'infer' },
  { flag: 'seq', kind: 'int', group: 'train' },
  { flag: 'method', kind: 'text', group: 'train' },
  { flag: 'precision', kind: 'text', group: 'train' },
  { flag: 'optimizer', kind: 'text', group: 'train' },
  { flag: 'grad-accum', kind: 'int', group: 'train' },
  { flag: 'grad-ckpt', kind: 'bool', group: 'train' },
  { flag: 'chunked-ce', kind: 'bool', group: 'train' },
  { flag: 'optimizer-in-backward', kind: 'bool', group: 'train' },
  { flag: 'activation-offload', kind: 'bool', group: 'train' },
  { flag: 'lora-rank', kind: 'int', group: 'lora' },
  { flag: 'lora-targets', kind: 'list', group: 'lora' },
  { flag: 'ngl', kind: 'int', group: 'llamacpp' },
  { flag: 'kv-prealloc', kind: 'int', group: 'llamacpp' },
  { flag: 'max-model-len', kind: 'int', group: 'serving' },
  { flag: 'gpu-memory-utilization', kind: 'float', group: 'serving' },
  { flag: 'runtime-version', kind: 'text', group: 'serving' },
  { flag: 'max-num-seqs', kind: 'int', group: 'serving' },
  { flag: 'kv-cache-dtype', kind: 'text', group: 'serving' },
  { flag: 'enforce-eager', kind: 'bool', group: 'serving' },
  { flag: 'zero', kind: 'int', group: 'multi' },
  { flag: 'fsdp', kind: 'text', group: 'multi' },
  { flag: 'tp', kind: 'int', group: 'multi' },
  { flag: 'pp', kind: 'int', group: 'multi' },
  { flag: 'offload', kind: 'text', group: 'multi' },
  { flag: 'offload-params', kind: 'bool', group: 'multi' },
  { flag: 'wired-limit-mb', kind: 'int', group: 'all' },
];
// The methods that read --lora-rank and --lora-targets: the core's options() says which.
let LORA_METHODS = new Set();
const DEFAULT_GPUS = ['T4'];
const LIMIT_COLOURS = ['#b3261e', '#6a3bb0', '#a35f00', '#0e6b76', '#4d5a1e', '#8a2c6b', '#1f5fa8', '#7a4a12',
  '#2e7d32', '#ad1457'];
const PALETTE = ['#3b6fd8', '#e07b39', '#3aa675', '#c8475d', '#8a63c9', '#c9a227', '#2aa3b5', '#d05fa8',
  '#6b8e23', '#8c6d52', '#5a6b8c', '#b35c2e'];
// One colour per component name, the same in every result (D19); names not listed get one
// from their name's hash.
const COMPONENT_COLOURS = {
  weights: '#3b6fd8', kv_cache: '#e07b39', activations: '#3aa675', logits: '#c8475d', logits_and_loss: '#c8475d',
  optimizer_state: '#8a63c9', gradients: '#c9a227', adapter_weights: '#2aa3b5', autocast_weight_copies: '#d05fa8',
  allocator: '#8c6d52', cuda_context: '#5a6b8c', rocm_context: '#5a6b8c', metal_context: '#5a6b8c', mask: '#6b8e23', buffers: '#b35c2e', kv_cache_growth: '#f0a868',
  kv_cache_previous: '#f0a868', recomputed_layer: '#7cc49b', backward_working_set: '#4f9e6c',
  optimizer_step_temporaries: '#b39ddb', dequantization_temporaries: '#9e9d24', quantization_transient: '#9e9d24',
  head_gradient: '#e6c550', embedding_gradient: '#e6c550', compute_buffer: '#3aa675',
  recurrent_state: '#a0522d', host_recurrent_state: '#a0522d',
};
const MAX_PLANS_SHOWN = 5;

let api = null;
let catalog = { models: [], gpus: [] };
let gpus = [];                 // GPU specs compared, each with its count: "T4", "4xA100-80GB", "24GiB"
let hubConfig = null;          // { id, rev, text } once fetched
let ggufRepo = null;           // { id, rev, repo, models, bytes, requests } once a GGUF repo was read
let ggufInLink = false;        // the link showed a GGUF table: offer to read the headers again
let ggufReading = null;        // the AbortController of the read in flight
let lastGguf = null;           // its table for the first GPU (what `vramfit fit ORG/NAME-GGUF --json` prints)
let lastReport = null;         // the first GPU's report (drives charts and explanations)
let lastSweep = null;
let lastFit = null;
let runStarted = 0;            // when the latest run began
let lastVerdictMs = null;      // its time from start to verdict on screen (window.vramfitPage)
let generation = 0;            // bumped by every run(); a result for an older run is dropped
let linkWarnings = [];         // link values the page could not take (D17)

// ---------------------------------------------------------------------------------------
// Form ⇄ request ⇄ URL

const el = (flag) => document.getElementById(flag);
const task = () => el('task').value;
const isTrain = () => task() === 'train';
const SERVING_ENGINES = new Set(['vllm', 'sglang']);
const isServing = () => SERVING_ENGINES.has(el('runtime').value);

function groupApplies(group) {
  switch (group) {
    case 'all': case 'multi': return true;
    case 'infer': return !isTrain();
    case 'train': return isTrain();
    case 'lora': return isTrain() && LORA_METHODS.has(el('method').value);
    case 'llamacpp': return el('runtime').value === 'llama.cpp';
    case 'serving': return isServing();
    default: return false;
  }
}

function defaultOf(input) {
  if (input.type === 'checkbox') return input.defaultChecked;
  if (input.tagName === 'SELECT') {
    const opt = [...input.options].find((o) => o.defaultSelected) || input.options[0];
    return opt.value;
  }
  return input.defaultValue;
}

function currentOf(input) {
  return input.type === 'checkbox' ? input.checked : input.value.trim();
}

/** The workload settings that differ from the defaults, as request values; errors per field. */
function workloadFromForm() {
  const workload = {};
  const errors = [];
  for (const f of FIELDS) {
    const input = el(f.flag);
    if (!groupApplies(f.group)) continue;
    const value = currentOf(input);
    if (value === defaultOf(input) || value === '') {
      if (value === '' && f.kind === 'int' && defaultOf(input) !== '') {
        errors.push([f.flag, 'give a whole number']);
      }
      continue;
    }
    if (f.kind === 'int') {
      if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
        errors.push([f.flag, 'give a whole number']);
        continue;
      }
      workload[f.flag] = Number(value);
    } else if (f.kind === 'float') {
      const x = Number(value);
      if (!/^\d*\.?\d+$/.test(value) || !(x > 0 && x <= 1)) {
        errors.push([f.flag, 'give a fraction between 0 and 1']);
        continue;
      }
      workload[f.flag] = x;
    } else if (f.kind === 'bool') {
      workload[f.flag] = value;
    } else if (f.kind === 'list') {
      workload[f.flag] = value.split(',').map((s) => s.trim()).filter(Boolean);
    } else {
      workload[f.flag] = value;
    }
  }
  return { workload, errors };
}

function source() {
  return document.querySelector('input[name=src]:checked').value;
}

/** The model part of a request, or an error message. */
function modelFromForm() {
  switch (source()) {
    case 'paste': {
      const text = el('config').value.trim();
      if (!text) return { waiting: 'Paste a model\'s config.json (from its Hugging Face page, "Files") to estimate it.' };
      return { model: el('config-name').value.trim() || 'my-model', config: text, origin: 'config.json (pasted)' };
    }
    case 'hf': {
      if (!hubConfig) {
        if (ggufInLink && !ggufRepo) return { waiting: `This link showed which GGUF file of ${el('hf').value.trim()} fits: press "Which GGUF file fits" to read the files' headers from huggingface.co again (the page reads the Hub only when asked).` };
        return { waiting: ggufRepo ? 'The GGUF table is below; "Fetch config.json" estimates the repo\'s model in full too.' : 'Give a repo id and press "Fetch config.json" (or "Which GGUF file fits" for a repo of GGUF files): your browser reads it from huggingface.co.' };
      }
      return {
        model: hubConfig.id, config: hubConfig.text, origin: hubUrl(hubConfig.id, hubConfig.rev), bytes_transferred: hubConfig.bytes,
      };
    }
    default: {
      const name = el('model').value.trim();
      if (!name) return { waiting: 'Pick a model: type to search the catalog.' };
      return { model: name };
    }
  }
}

/** The count typed for the next GPU added (each GPU compared keeps its own). */
function count() {
  const n = el('count').value.trim();
  return /^\d+$/.test(n) && Number(n) >= 1 && Number(n) <= 1024 ? Number(n) : null;
}

/** "4xA100-80GB" → { n: 4, name: "A100-80GB" }; "T4" → { n: 1, name: "T4" }. */
function splitSpec(spec) {
  const m = /^(\d+)\s*[x×]\s*(.+)$/i.exec(spec.trim());
  return m ? { n: Number(m[1]), name: m[2].trim() } : { n: 1, name: spec.trim() };
}

function joinSpec(n, name) {
  return n > 1 ? `${n}x${name}` : name;
}

/** The verdict list's key for a GPU: its name without the count. */
function gpuKey(g) {
  return splitSpec(g).name;
}

// base64url of UTF-8 text, for configs carried in the URL.
function toB64(text) {
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
function fromB64(s) {
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
  return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}
function minified(text) {
  try { return JSON.stringify(JSON.parse(text)); } catch { return text; }
}

function writeUrl() {
  const q = new URLSearchParams();
  const src = source();
  if (src !== 'catalog') q.set('src', src);
  if (src === 'catalog') q.set('model', el('model').value.trim());
  if (src === 'paste') {
    q.set('name', el('config-name').value.trim());
    if (el('config').value.trim()) q.set('config', toB64(minified(el('config').value)));
  }
  if (src === 'hf') {
    if (el('hf').value.trim()) q.set('hf', el('hf').value.trim());
    if (el('hf-rev').value.trim()) q.set('rev', el('hf-rev').value.trim());
    // The fetched config travels in the link, so opening it needs no second fetch.
    if (hubConfig) q.set('config', toB64(minified(hubConfig.text)));
    // The GGUF headers do not (megabytes): the link says the table was shown, and the page
    // offers to read them again.
    if (ggufRepo || ggufInLink) q.set('gguf', '1');
  }
  q.set('gpu', gpus.join(','));
  for (const f of FIELDS) {
    const input = el(f.flag);
    if (!groupApplies(f.group)) continue;
    const v = currentOf(input);
    if (v !== defaultOf(input)) q.set(f.flag, f.kind === 'bool' ? '1' : v);
  }
  if (el('over').value !== 'batch') q.set('over', el('over').value);
  const url = `${location.pathname}?${q.toString().replace(/%2C/g, ',')}`;
  if (url !== `${location.pathname}${location.search}`) history.replaceState(null, '', url);
}

function readUrl() {
  const q = new URLSearchParams(location.search);
  const src = q.get('src') || 'catalog';
  const radio = document.querySelector(`input[name=src][value="${CSS.escape(src)}"]`);
  if (radio) radio.checked = true;
  if (q.has('model')) el('model').value = q.get('model');
  if (q.has('name')) el('config-name').value = q.get('name');
  if (q.has('hf')) el('hf').value = q.get('hf');
  if (q.has('rev')) el('hf-rev').value = q.get('rev');
  ggufInLink = src === 'hf' && q.get('gguf') === '1';
  if (q.has('config')) {
    let text = '';
    try { text = fromB64(q.get('config')); } catch { showError('the link\'s config is damaged: paste the config.json again'); }
    // From a link: nothing was transferred to read it.
    if (src === 'hf' && text) hubConfig = { id: q.get('hf') || 'model', rev: q.get('rev') || '', text, bytes: 0 };
    else el('config').value = text;
  }
  gpus = q.has('gpu') ? q.get('gpu').split(',').map((x) => x.trim()).filter(Boolean) : [...DEFAULT_GPUS];
  // Older links: one count for every GPU (`count=4`); a GPU's own count (`4xA100`) wins.
  const shared = q.has('count') && /^\d+$/.test(q.get('count')) ? Number(q.get('count')) : 1;
  if (shared > 1) gpus = gpus.map((g) => (splitSpec(g).n > 1 ? g : joinSpec(shared, g)));
  linkWarnings = [];
  for (const f of FIELDS) {
    if (!q.has(f.flag)) continue;
    const input = el(f.flag);
    const value = q.get(f.flag);
    if (f.kind === 'bool') input.checked = value === '1' || value === 'true';
    else if (input.tagName === 'SELECT' && ![...input.options].some((o) => o.value === value)) {
      // A hand-edited link with a value the page has no choice for (D17): say so, keep the default.
      linkWarnings.push(`${f.flag}=${value}`);
    } else input.value = value;
  }
  if (q.has('over')) {
    if ([...el('over').options].some((o) => o.value === q.get('over'))) el('over').value = q.get('over');
    else linkWarnings.push(`over=${q.get('over')}`);
  }
  const warn = $('#link-warning');
  warn.hidden = !linkWarnings.length;
  warn.textContent = linkWarnings.length
    ? `This link's ${linkWarnings.join(', ')} ${linkWarnings.length > 1 ? 'are' : 'is'} not a choice here: the default is used instead.`
    : '';
}

/** The CLI command that prints the same JSON as this page's first result. */
function cliCommand(req, sub = 'estimate') {
  const quote = (s) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  let modelArg = req.model;
  if (source() === 'paste') modelArg = 'config.json';
  const parts = ['vramfit', sub, quote(modelArg)];
  if (req.gpu) parts.push('--gpu', quote(req.gpu));
  for (const [k, v] of Object.entries(req.workload)) {
    if (v === true) parts.push(`--${k}`);
    else parts.push(`--${k}`, quote(Array.isArray(v) ? v.join(',') : String(v)));
  }
  parts.push('--json');
  return parts.join(' ');
}

// ---------------------------------------------------------------------------------------
// Running the core

function clearErrors() {
  $('#error').hidden = true;
  $('#error').textContent = '';
  for (const input of $$('[aria-invalid=true]')) {
    input.removeAttribute('aria-invalid');
    const ids = (input.getAttribute('aria-describedby') || '').split(' ').filter((x) => x && x !== 'error');
    if (ids.length) input.setAttribute('aria-describedby', ids.join(' '));
    else input.removeAttribute('aria-describedby');
  }
}

/** Show an error; when it names a flag ("--batch: ..."), mark that input. */
function showError(message, flag) {
  const box = $('#error');
  box.hidden = false;
  box.textContent = message;
  const name = flag || (/^--([a-z-]+)/.exec(message) || [])[1];
  const target = { gpu: 'gpu-add', model: source() === 'catalog' ? 'model' : 'config' }[name] || name;
  const input = target && el(target);
  if (input && 'value' in input) {
    input.setAttribute('aria-invalid', 'true');
    const ids = new Set((input.getAttribute('aria-describedby') || '').split(' ').filter(Boolean));
    ids.add('error');
    input.setAttribute('aria-describedby', [...ids].join(' '));
  }
}

function applyVisibility() {
  for (const node of $$('.g-infer')) node.hidden = isTrain();
  for (const node of $$('.g-train')) node.hidden = !isTrain();
  for (const node of $$('.g-lora')) node.hidden = !groupApplies('lora');
  for (const node of $$('.g-llamacpp')) node.hidden = !groupApplies('llamacpp');
  for (const node of $$('.g-serving')) node.hidden = !groupApplies('serving');
  const src = source();
  $('.src-catalog').hidden = src !== 'catalog';
  $('.src-paste').hidden = src !== 'paste';
  $('.src-hf').hidden = src !== 'hf';
  $('#over option[value=seq]').textContent = isTrain() ? 'sequence length' : 'prompt length';
  // llama.cpp has no SDPA: its default (-fa auto) runs flash attention where it can (D14).
  const sdpa = $('#attn option[value=sdpa]');
  sdpa.textContent = el('runtime').value === 'llama.cpp' ? 'auto (-fa auto: flash)' : sdpa.dataset.label;
}

// `<html data-pending>` is set while anything that changes the results is due or in flight:
// a run, a debounced run not started yet, or a user action that ends in a run (adding a GPU,
// a Hub fetch). The e2e test waits on it after every event, so it must be set by the event's
// own handler, before any await.
const busy = { runs: 0, actions: 0, debounce: false };
function showBusy() {
  if (busy.runs || busy.actions || busy.debounce) document.documentElement.dataset.pending = '1';
  else delete document.documentElement.dataset.pending;
}

/** Run `f` (an action that ends in a run) with the page marked pending until it ends. */
async function action(f) {
  busy.actions += 1;
  showBusy();
  try {
    return await f();
  } finally {
    busy.actions -= 1;
    showBusy();
  }
}

/** Recompute everything from the form. The core answers in a worker; a run overtaken by a
 * newer one is dropped. */
async function run() {
  generation += 1;
  const mine = generation;
  const stale = () => mine !== generation;
  busy.runs += 1;
  showBusy();
  try {
    await runOnce(stale);
    if (!stale()) await ggufRun(stale);
  } catch (e) {
    if (!stale()) renderEmpty(messageOf(e));
  } finally {
    busy.runs -= 1;
    showBusy();
  }
}

async function runOnce(stale) {
  runStarted = performance.now();
  applyVisibility();
  writeUrl();
  renderGpuChips();
  const m = modelFromForm();
  const { workload, errors } = workloadFromForm();
  clearErrors();
  if (m.waiting) {
    $('#model-info').textContent = '';
    return renderEmpty(null, null, m.waiting);
  }
  if (errors.length) return renderEmpty(`--${errors[0][0]}: ${errors[0][1]}`, errors[0][0]);

  const base = { ...m, workload };
  const info = await modelInfo(base);
  if (stale()) return false;
  renderModelInfo(base, info);
  const results = await Promise.all((gpus.length ? gpus : [null]).map(async (g) => {
    const req = g ? { ...base, gpu: g } : base;
    try {
      return { gpu: g, req, report: await api.estimate(req) };
    } catch (e) {
      return { gpu: g, req, error: messageOf(e) };
    }
  }));
  if (stale()) return false;
  $('#idle').hidden = true;
  $('#results').classList.remove('empty', 'verdicts-only');
  const first = results.find((r) => r.report);
  if (!first) {
    // The same error for every GPU is about the model or the workload: show it once.
    const distinct = new Set(results.map((r) => r.error));
    if (distinct.size === 1 || !gpus.length) {
      renderEmpty(results[0].error);
      offerHub(results[0].error);
      return false;
    }
    // Each GPU failed its own way (bf16 here, fp8 there): the verdicts say why, nothing else.
    renderEmpty(null);
    renderVerdicts(results);
    $('#results').classList.replace('empty', 'verdicts-only');
    return false;
  }
  $('#results').classList.remove('verdicts-only');
  renderVerdicts(results);
  lastReport = first.report;
  $('#json').textContent = JSON.stringify(first.report, null, 2);
  $('#cli').textContent = cliCommand(first.req);
  const limits = results.filter((r) => r.report && r.report.gpu).map((r, i) => ({
    label: r.report.gpu.label, bytes: r.report.gpu.usable_bytes, reserve: r.report.reserve_bytes, colour: LIMIT_COLOURS[i % LIMIT_COLOURS.length],
  }));
  renderBars(first.report, limits);
  renderExplain(first.report);
  renderDevices(first.report);
  renderSpeed(first.report);
  // The verdict is on screen now; the sweep and the plans follow when the core has them.
  lastVerdictMs = performance.now() - runStarted;
  const [sweep, fits] = await Promise.all([
    sweepOf(first.req, info),
    Promise.all(results.map((r) => (r.report && r.req.gpu ? fitOf(r.req, info) : null))),
  ]);
  if (stale()) return false;
  renderSweep(first.req, limits, sweep);
  renderPlans(first.req, fits[results.indexOf(first)]);
  renderCompare(results, fits);
  renderAnswer(results, fits[results.indexOf(first)]);
  return true;
}

function messageOf(e) {
  if (e instanceof CoreError) return e.message;
  // A trap inside the module is a bug in vramfit, not in the input.
  return `internal error in the vramfit core (${e.message}); please report it with this page's link`;
}

/** No result: an error (naming the input to fix), or a hint at what is still missing. */
function renderEmpty(message, flag, waiting) {
  if (message) showError(message, flag);
  $('#idle').hidden = !waiting;
  $('#idle').textContent = waiting || '';
  $('#results').classList.add('empty');
  lastReport = null;
  $('#summary').textContent = '';
  if (message) $('#verdicts').replaceChildren();
  for (const id of ['#bars', '#legend', '#sweep', '#sweep-table', '#explain', '#notes', '#plan-list', '#devices', '#speed', '#speed-basis']) $(id).replaceChildren();
  $('#devices-box').hidden = true;
  $('#speed-sec').hidden = true;
  $('#json').textContent = '';
  $('#cli').textContent = '';
  $('#peak').textContent = '';
  $('#plans').hidden = true;
  $('#compare-sec').hidden = true;
  $('#answer').hidden = true;
  $('#announce').textContent = message || waiting || '';
  return false;
}

/** A Hub-looking id that is not in the catalog: offer to read it from Hugging Face (D12). */
function offerHub(message) {
  const name = el('model').value.trim();
  if (source() !== 'catalog' || !/^[\w.-]+\/[\w.-]+$/.test(name) || !/unknown model/.test(message || '')) return;
  const go = h('button', { type: 'button', id: 'offer-hub', class: 'inline' }, `Read ${name} from Hugging Face`);
  go.addEventListener('click', () => {
    document.querySelector('input[name=src][value=hf]').checked = true;
    el('hf').value = name;
    action(fetchHub);
  });
  $('#error').append(' ', go);
}

// ---------------------------------------------------------------------------------------
// Rendering

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v === true ? '' : v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function s(tag, attrs = {}, text) {
  const node = document.createElementNS(svgNS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

const modelInfos = new Map();   // catalog name → what api.model() says (parsed once)

/** What the core reads from the model: for catalog models parsed once, then remembered. */
async function modelInfo(base) {
  const key = base.config ? null : base.model.toLowerCase();
  if (key && modelInfos.has(key)) return modelInfos.get(key);
  let m = null;
  try { m = await api.model({ model: base.model, config: base.config }); } catch { /* the estimate shows the error */ }
  if (key && m) modelInfos.set(key, m);
  return m;
}

function renderModelInfo(base, m) {
  const c = !base.config && m && catalog.models.find((x) => x.name === m.name);
  $('#model-info').textContent = m
    ? [m.name, c ? c.hf_id : null, m.model_type, `${(m.params / 1e9).toFixed(2)} B parameters`, `${m.layers} layers`,
      m.torch_dtype ? `${m.torch_dtype} checkpoint` : null, m.quantization].filter(Boolean).join(' · ')
    : '';
}

function renderGpuChips() {
  const list = $('#gpu-chips');
  list.replaceChildren(...gpus.map((g, i) => {
    const { n, name } = splitSpec(g);
    const remove = h('button', { type: 'button', class: 'chip-x', 'aria-label': `Remove ${g}`, title: `Remove ${g}` }, '×');
    remove.addEventListener('click', () => {
      gpus.splice(i, 1);
      run();
      (list.querySelector('button') || el('gpu-add')).focus();
    });
    // Each GPU has its own count (D9): 1×T4 beside 4×A100 compares both.
    const n1 = h('input', {
      type: 'number', min: '1', max: '1024', step: '1', value: String(n), class: 'chip-n', inputmode: 'numeric',
      'aria-label': `How many ${name}`, 'data-gpu': name,
    });
    n1.addEventListener('change', () => {
      const v = Number(n1.value);
      if (Number.isSafeInteger(v) && v >= 1 && v <= 1024) {
        gpus[i] = joinSpec(v, name);
        run();
      } else n1.value = String(n);
    });
    return h('li', { class: 'chip', 'data-gpu': name }, n1, h('span', { class: 'x', 'aria-hidden': 'true', text: '×' }), h('span', { text: name }), remove);
  }));
  if (!gpus.length) list.append(h('li', { class: 'hint', text: 'No GPU: add one for a verdict.' }));
}

function renderVerdicts(results) {
  const list = $('#verdicts');
  const withGpu = results.filter((r) => r.gpu);
  list.replaceChildren(...withGpu.map((r) => {
    if (r.error) {
      return h('li', { class: 'verdict error-v', 'data-gpu': gpuKey(r.gpu), 'data-spec': r.gpu },
        h('b', { text: r.req.gpu }), h('span', { text: ` — cannot say: ${r.error}` }));
    }
    const rep = r.report;
    if (rep.serving) return servingVerdict(r, rep);
    const fits = rep.fits;
    const head = rep.headroom_bytes;
    // The core's headroom policy: fits = leaves the reserve free; tight = fits the raw memory only.
    const tight = !fits && head >= 0;
    const detail = fits
      ? `${gib(head)} GiB headroom`
      : tight ? `${gib(head)} GiB headroom, under the ${gib(rep.reserve_bytes)} GiB reserve` : `${gib(-head)} GiB short`;
    const word = fits ? 'fits' : tight ? 'tight' : 'does not fit';
    return h('li', { class: `verdict ${fits ? 'fits' : tight ? 'tight' : 'nofit'}`, 'data-gpu': gpuKey(r.gpu), 'data-spec': r.gpu, 'data-fits': String(fits), 'data-word': word },
      h('b', { text: rep.gpu.label }),
      h('span', { class: 'usable', text: ` ${gib(rep.gpu.usable_bytes)} GiB usable${rep.gpu.count > 1 ? ' per GPU' : ''}` }),
      h('span', { class: 'badge', text: word }),
      h('span', { class: 'need', text: `needs ${gib(rep.per_gpu_bytes)} GiB${rep.gpu.count > 1 ? ' per GPU' : ''} · ${detail}` }),
      ...(speedText(rep.speed) ? [h('span', { class: 'speed', text: ` · ${speedText(rep.speed)}` })] : []));
  }));
  // One line for screen readers, announced politely after each change (D15).
  $('#announce').textContent = withGpu.map((r) => (r.error ? `${r.req.gpu}: cannot say` : r.report.serving ? `${r.report.gpu.label}: ${servingLine(r.report.serving)}` : `${r.report.gpu.label}: ${
    r.report.fits ? 'fits' : r.report.headroom_bytes >= 0 ? 'tight' : 'does not fit'}, needs ${gib(r.report.per_gpu_bytes)} GiB`)).join('; ');
  const first = results.find((r) => r.report);
  $('#summary').textContent = first
    ? `Peak ${gib(first.report.total_bytes)} GiB on the device${first.report.gpu && first.report.gpu.count > 1 ? ' (per GPU)' : ''}, during ${first.report.peak_phase}.`
      + (first.report.host_bytes > 0 ? ` Plus ${gib(first.report.host_bytes)} GiB of CPU RAM.` : '')
    : '';
}

/** A serving engine's verdict, in its own words: "starts; 31,232 KV tokens; 1.56 requests of 20,000 tokens at once". */
function servingLine(s) {
  if (s.starts === null || s.starts === undefined) return 'add a GPU for the KV tokens and the concurrency';
  if (!s.starts) return `does not start: ${s.error}`;
  return `starts; ${s.kv_tokens.toLocaleString('en')} KV tokens; ${s.max_concurrency.toFixed(2)} requests of ${s.max_model_len.toLocaleString('en')} tokens at once`;
}

function servingVerdict(r, rep) {
  const s = rep.serving;
  const word = s.starts ? 'starts' : 'does not start';
  return h('li', { class: `verdict ${s.starts ? 'fits' : 'nofit'}`, 'data-gpu': gpuKey(r.gpu), 'data-spec': r.gpu, 'data-fits': String(rep.fits), 'data-word': word },
    h('b', { text: rep.gpu.label }),
    h('span', { class: 'usable', text: ` ${gib(s.device_total_bytes)} GiB as ${s.engine} sees it` }),
    h('span', { class: 'badge', text: word }),
    h('span', { class: 'need', text: `${s.engine} ${s.version}: ${servingLine(s)}` }));
}

/** The core's speed estimate in words (estimate `speed`, plan `speed_estimate`), with its
 * measured error band when there is one; '' without a catalog GPU. */
function speedText(sp) {
  if (!sp) return '';
  const band = (b) => (b ? ` ±${Math.round(b.median * 100)} %` : '');
  const eb = sp.error_band || {};
  if (sp.decode_tokens_per_s != null) return `~${sp.decode_tokens_per_s.toFixed(1)} tokens/s decode${band(eb.decode)}`;
  if (sp.step_s != null) return `~${sp.step_s.toFixed(2)} s per step${band(eb.train)}`;
  if (sp.prefill_tokens_per_s != null) return `~${Math.round(sp.prefill_tokens_per_s)} tokens/s prefill${band(eb.prefill)}`;
  return '';
}

/** Colours by component name, stable within a result. */
/** A component name with line-break opportunities after its underscores. */
function nameNode(name) {
  const span = h('span', { class: 'nm' });
  name.split('_').forEach((part, i, all) => {
    span.append(part + (i < all.length - 1 ? '_' : ''));
    if (i < all.length - 1) span.append(document.createElement('wbr'));
  });
  return span;
}

function colourOf(name) {
  if (COMPONENT_COLOURS[name]) return COMPONENT_COLOURS[name];
  let hash = 0;
  for (const ch of name) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return PALETTE[hash % PALETTE.length];
}

function colours(components) {
  return new Map(components.map((c) => [c.name, colourOf(c.name)]));
}

/** Bytes as GiB with two decimals, or MiB when that would read 0.00 GiB (D23). */
function size(bytes) {
  if (bytes >= 0.995 * GIB || bytes === 0) return `${gib(bytes)} GiB`;
  const mib = bytes / 2 ** 20;
  return `${mib >= 10 ? mib.toFixed(0) : mib.toFixed(1)} MiB`;
}

function chartWidth(node) {
  return Math.max(280, Math.min(900, Math.floor(node.clientWidth || 600)));
}

function renderBars(rep, limits) {
  const box = $('#bars');
  const W = chartWidth(box);
  const narrow = W < 480;
  const levels = ['allocated', 'reserved', 'device'];
  const order = { allocated: 0, reserved: 1, device: 2, host: 3 };
  const comps = rep.components.filter((c) => c.level !== 'host' && c.bytes > 0);
  const colour = colours(comps);
  const max = Math.max(rep.levels.device, ...limits.map((l) => l.bytes)) * 1.04 || 1;
  const labelW = narrow ? 6 : 78;
  const rowH = narrow ? 46 : 34;
  const barH = 22;
  // On a phone, more than two GPU labels pile up on the chart (D20): they go to the legend.
  const labelled = !narrow || limits.length <= 2;
  const top = 18 + (labelled ? 15 * Math.max(0, limits.length - 1) : 0);
  const plotW = W - labelW - 14;
  const H = top + levels.length * rowH + 22;
  const x = (b) => labelW + (b / max) * plotW;
  const svg = s('svg', { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': 'bars-title bars-desc' });
  svg.append(s('title', { id: 'bars-title' }, 'Memory by component at the three levels'));
  svg.append(s('desc', { id: 'bars-desc' }, levels.map((l) => `${l} ${gib(rep.levels[l])} GiB`).join(', ')
    + limits.map((l) => `; ${l.label} has ${gib(l.bytes)} GiB usable per GPU`).join('')));
  levels.forEach((level, i) => {
    const y0 = top + i * rowH + (narrow ? 14 : 0);
    const label = `${level} ${gib(rep.levels[level])} GiB`;
    if (narrow) svg.append(s('text', { x: 0, y: y0 - 4, class: 'lbl' }, label));
    else {
      svg.append(s('text', { x: 0, y: y0 + barH / 2 + 4, class: 'lbl' }, level));
    }
    let acc = 0;
    for (const c of comps) {
      if (order[c.level] > i) continue;
      const rect = s('rect', { x: x(acc), y: y0, width: Math.max(0.5, x(acc + c.bytes) - x(acc)), height: barH, fill: colour.get(c.name) });
      rect.append(s('title', {}, `${c.name}: ${gib(c.bytes)} GiB (${c.level})`));
      svg.append(rect);
      acc += c.bytes;
    }
    if (!narrow) {
      const tx = x(acc) + 4;
      const inside = tx > W - 70;
      svg.append(s('text', { x: inside ? x(acc) - 4 : tx, y: y0 + barH / 2 + 4, class: inside ? 'val in halo' : 'val halo', 'text-anchor': inside ? 'end' : 'start' }, `${gib(rep.levels[level])} GiB`));
    }
  });
  // Axis: GiB ticks.
  const axisY = top + levels.length * rowH + (narrow ? 8 : 2);
  const step = niceStep(max / GIB, narrow ? 4 : 7);
  for (let t = 0; t * GIB <= max; t += step) {
    svg.append(s('line', { x1: x(t * GIB), x2: x(t * GIB), y1: top - 4, y2: axisY - 10, class: 'grid' }));
    svg.append(s('text', { x: x(t * GIB), y: axisY + 4, class: 'tick', 'text-anchor': 'middle' }, String(t)));
  }
  limits.forEach((l, i) => {
    const lx = x(l.bytes);
    const ly = labelled ? 12 + 15 * i : 12;
    svg.append(s('line', { x1: lx, x2: lx, y1: ly - 6, y2: axisY - 8, class: 'limit', stroke: l.colour }));
    if (!labelled) return;
    const right = lx > W - 140;
    svg.append(s('text', { x: right ? lx - 4 : lx + 4, y: ly, class: 'limit-lbl halo', style: `fill:${l.colour}`, 'text-anchor': right ? 'end' : 'start' },
      `${l.label}: ${gib(l.bytes)} GiB`));
  });
  box.replaceChildren(svg);
  $('#legend').replaceChildren(...comps.map((c) => h('li', {},
    h('span', { class: 'sw', style: `background:${colour.get(c.name)}`, 'aria-hidden': 'true' }),
    nameNode(c.name),
    h('span', { class: 'gb', text: size(c.bytes) }))),
  ...(labelled ? [] : limits.map((l) => h('li', { class: 'gpu-line' },
    h('span', { class: 'sw line', style: `border-color:${l.colour}`, 'aria-hidden': 'true' }),
    h('span', { class: 'nm', text: `${l.label} usable` }),
    h('span', { class: 'gb', text: `${gib(l.bytes)} GiB` })))));
}

function niceStep(range, ticks) {
  const raw = range / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw || 1));
  const n = raw / mag;
  return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * mag;
}

/** llama.cpp's buffers per device, as it logs them at context creation (estimate `devices`). */
function renderDevices(rep) {
  const box = $('#devices-box');
  const devices = rep.devices || [];
  box.hidden = !devices.length;
  if (!devices.length) { $('#devices').replaceChildren(); return; }
  const cols = [['model_bytes', 'model'], ['kv_bytes', 'KV cache'], ['compute_bytes', 'compute'], ['other_bytes', 'other'], ['total_bytes', 'total']];
  $('#devices').replaceChildren(
    h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'device' }), ...cols.map(([, t]) => h('th', { scope: 'col', text: t })))),
    h('tbody', {}, ...devices.map((d) => h('tr', { 'data-device': d.device },
      h('th', { scope: 'row', text: d.device }), ...cols.map(([k]) => h('td', { text: size(d[k]) }))))));
}

/** The core's speed estimate (estimate `speed`): each figure with its measured error band,
 * and how it is computed (the basis: value, formula, source). */
function renderSpeed(rep) {
  const sec = $('#speed-sec');
  const sp = rep.speed;
  const eb = (sp && sp.error_band) || {};
  const band = (b) => (b ? `±${Math.round(b.median * 100)} % (median of ${b.cases} measured cases; p90 ±${Math.round(b.p90 * 100)} %)` : 'no measured cases');
  const rows = [];
  if (sp) {
    const batch = rep.workload && rep.workload.batch > 1;
    if (sp.decode_tokens_per_s != null) rows.push(['decode', 'one sequence', `${sp.decode_tokens_per_s.toFixed(1)} tokens/s`, band(eb.decode)]);
    if (batch && sp.decode_tokens_per_s_batch != null) rows.push(['decode-batch', `the batch of ${rep.workload.batch}`, `${sp.decode_tokens_per_s_batch.toFixed(1)} tokens/s`, band(eb.decode)]);
    if (sp.prefill_tokens_per_s != null) rows.push(['prefill', 'prefill', `${sp.prefill_tokens_per_s.toFixed(1)} tokens/s`, band(eb.prefill)]);
    if (sp.ttft_s != null) rows.push(['ttft', 'time to first token', `${sp.ttft_s.toFixed(3)} s`, band(eb.prefill)]);
    if (sp.step_s != null) rows.push(['step', 'training step', `${sp.step_s.toFixed(3)} s`, band(eb.train)]);
    if (sp.train_tokens_per_s != null) rows.push(['train', 'training', `${sp.train_tokens_per_s.toFixed(1)} tokens/s`, band(eb.train)]);
    // Serving engines: aggregate decode by concurrency, up to what the KV pool holds.
    for (const c of sp.concurrency || []) {
      rows.push([`concurrency-${c.sequences}`, `${c.sequences.toLocaleString('en')} sequences at once`,
        `${c.tokens_per_s.toFixed(1)} tokens/s (${c.per_sequence_tokens_per_s.toFixed(1)} each)`, `${c.bound}-bound; ${band(eb.decode)}`]);
    }
  }
  sec.hidden = !rows.length;
  if (!rows.length) { $('#speed').replaceChildren(); $('#speed-basis').replaceChildren(); return; }
  $('#speed-h').textContent = `How fast (estimate, ${sp.backend} constants${rep.gpu ? `, ${rep.gpu.label}` : ''})`;
  $('#speed').replaceChildren(h('tbody', {}, ...rows.map(([k, what, value, b]) => h('tr', { 'data-speed': k },
    h('th', { scope: 'row', text: what }), h('td', { text: value }), h('td', { class: 'hint', text: b })))));
  $('#speed-basis').replaceChildren(...(sp.basis || []).map((x) => h('li', {},
    h('b', { text: x.name }), ` = ${Number(x.value).toLocaleString('en', { maximumSignificantDigits: 6 })} ${x.unit}: `,
    h('code', { text: x.formula }), x.source ? h('span', { class: 'source', text: ` (source: ${x.source})` }) : null)));
}

function renderExplain(rep) {
  $('#peak').textContent = `Peak during ${rep.peak_phase}. Each component: its bytes, the formula with the numbers put in, and where the formula comes from.`;
  const colour = colours(rep.components);
  $('#explain').replaceChildren(...rep.components.map((c) => h('article', { class: 'comp' },
    h('h3', {},
      h('span', { class: 'sw', style: `background:${colour.get(c.name)}`, 'aria-hidden': 'true' }),
      nameNode(c.name),
      h('span', { class: 'lv', text: c.level === 'host' ? 'cpu ram' : c.level }),
      h('span', { class: 'gb', text: size(c.bytes) })),
    h('p', { class: 'formula' }, h('code', { text: `= ${c.formula}` })),
    c.source ? h('p', { class: 'source', text: `source: ${c.source}` }) : null)));
  $('#notes').replaceChildren(...rep.notes.map((n) => h('li', { text: `note: ${n}` })));
}

function sweepValues(over, current, maxPositions) {
  const vals = new Set([current]);
  if (over === 'batch') for (let v = 1; v <= 256; v *= 2) vals.add(v);
  else {
    const cap = Math.max(current, Math.min(maxPositions || 32768, 131072));
    for (let v = 128; v <= cap; v *= 2) vals.add(v);
  }
  return [...vals].filter((v) => v >= 1).sort((a, b) => a - b).slice(0, 32);
}

/** The sweep's points for the chart (or its error message). */
async function sweepOf(req, info) {
  const choice = el('over').value;
  const over = choice === 'batch' ? 'batch' : (isTrain() ? 'seq' : 'prompt');
  const current = req.workload[over] ?? Number(el(over).defaultValue);
  const maxPos = info ? info.max_positions : null;
  try {
    return { over, current, result: await api.sweep(req, over, sweepValues(over, current, maxPos)) };
  } catch (e) {
    return { over, current, error: messageOf(e) };
  }
}

function renderSweep(req, limits, sweep) {
  const { over, current, result, error } = sweep;
  if (error) {
    $('#sweep').replaceChildren(h('p', { class: 'hint', text: error }));
    return;
  }
  lastSweep = result;
  const box = $('#sweep');
  const W = chartWidth(box);
  const H = W < 480 ? 220 : 260;
  const m = { l: 44, r: 26, t: 14, b: 40 };
  // Draw up to the first point well past the largest GPU (and at least to the current value):
  // beyond it the curve only squashes the region where the answer changes. The table below
  // the chart keeps every point.
  const roof = Math.max(...limits.map((l) => l.bytes), 0) * 1.6;
  let shown = result.points;
  if (roof > 0) {
    const past = result.points.findIndex((p) => p.value >= current && p.device !== undefined && p.device > roof);
    if (past >= 0) shown = result.points.slice(0, Math.max(past + 1, 4));
  }
  const pts = shown.filter((p) => p.device !== undefined);
  // A flat stretch is not "batch does not matter" (D24): say which moment sets the peak there.
  const flatRun = pts.filter((p, i) => i === 0 || p.device <= pts[0].device * 1.02);
  const why = $('#sweep-why');
  why.hidden = !(flatRun.length >= 3 && flatRun.every((p) => p.peak_phase === 'optimizer step'));
  why.textContent = why.hidden ? '' : `Flat up to ${flatRun[flatRun.length - 1].value}: there the peak is the optimizer step, which does not grow `
    + `with the ${over === 'batch' ? 'batch' : 'sequence'}; activations do grow underneath it (see "How each number is computed").`;
  const ymax = Math.max(1, ...pts.map((p) => p.device), ...limits.map((l) => l.bytes)) * 1.08;
  const xs = shown.map((p) => p.value);
  const lx = (v) => Math.log2(v);
  const x0 = lx(xs[0]);
  const x1 = lx(xs[xs.length - 1]);
  const x = (v) => m.l + ((lx(v) - x0) / ((x1 - x0) || 1)) * (W - m.l - m.r);
  const y = (b) => H - m.b - (b / ymax) * (H - m.t - m.b);
  const what = over === 'batch' ? 'batch size' : over === 'seq' ? 'sequence length (tokens)' : 'prompt length (tokens)';
  const svg = s('svg', { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': 'sweep-title sweep-desc' });
  svg.append(s('title', { id: 'sweep-title' }, `Device memory against ${what}`));
  svg.append(s('desc', { id: 'sweep-desc' }, pts.map((p) => `${p.value}: ${gib(p.device)} GiB`).join(', ')));
  const step = niceStep(ymax / GIB, 5);
  for (let t = 0; t * GIB <= ymax; t += step) {
    svg.append(s('line', { x1: m.l, x2: W - m.r, y1: y(t * GIB), y2: y(t * GIB), class: 'grid' }));
    svg.append(s('text', { x: m.l - 6, y: y(t * GIB) + 4, class: 'tick', 'text-anchor': 'end' }, String(t)));
  }
  svg.append(s('text', { x: 4, y: m.t - 2, class: 'tick' }, 'GiB'));
  const every = Math.ceil(xs.length / (W < 480 ? 5 : 10));
  xs.forEach((v, i) => {
    if (i % every && i !== xs.length - 1) return;
    // The last tick ends at the axis' end, so it is never clipped (D20).
    const last = i === xs.length - 1 && xs.length > 1;
    svg.append(s('text', { x: x(v), y: H - m.b + 16, class: 'tick', 'text-anchor': last ? 'end' : 'middle' }, v >= 1024 ? `${v / 1024}k` : String(v)));
  });
  svg.append(s('text', { x: (m.l + W - m.r) / 2, y: H - 6, class: 'lbl', 'text-anchor': 'middle' }, what));
  // GPU lines, labelled at the left where the curve is lowest; a halo keeps the label
  // readable where the curve crosses it.
  for (const l of limits) {
    svg.append(s('line', { x1: m.l, x2: W - m.r, y1: y(l.bytes), y2: y(l.bytes), class: 'limit', stroke: l.colour }));
  }
  if (pts.length) {
    svg.append(s('polyline', { points: pts.map((p) => `${x(p.value)},${y(p.device)}`).join(' '), class: 'line' }));
    for (const p of pts) {
      const c = s('circle', { cx: x(p.value), cy: y(p.device), r: p.value === current ? 5 : 3, class: p.value === current ? 'dot now' : 'dot' });
      c.append(s('title', {}, `${p.value}: ${gib(p.device)} GiB`));
      svg.append(c);
    }
  }
  let lastY = Infinity;
  for (const l of [...limits].sort((a, b) => a.bytes - b.bytes)) {
    const ly = Math.min(y(l.bytes) - 5, lastY - 14);
    lastY = ly;
    svg.append(s('text', { x: m.l + 10, y: ly, class: 'limit-lbl halo', style: `fill:${l.colour}` }, `${l.label} ${gib(l.bytes)} GiB`));
  }
  box.replaceChildren(svg);
  const head = h('tr', {}, h('th', { scope: 'col', text: what }), h('th', { scope: 'col', text: 'allocated GiB' }),
    h('th', { scope: 'col', text: 'reserved GiB' }), h('th', { scope: 'col', text: 'device GiB' }),
    ...limits.map((l) => h('th', { scope: 'col', text: `fits ${l.label}` })));
  const rows = result.points.map((p) => h('tr', { 'data-value': p.value },
    h('th', { scope: 'row', text: String(p.value) }),
    ...(p.error ? [h('td', { colspan: 3 + limits.length, text: p.error })]
      : [h('td', { text: gib(p.allocated) }), h('td', { text: gib(p.reserved) }), h('td', { text: gib(p.device) }),
        ...limits.map((l) => h('td', { text: p.device + l.reserve <= l.bytes ? 'yes' : p.device <= l.bytes ? 'tight' : 'no' }))])));
  $('#sweep-table').replaceChildren(h('thead', {}, head), h('tbody', {}, ...rows));
}

// ---------------------------------------------------------------------------------------
// Ranked plans: the core's fit solver (vramfit_core::fit), the object `vramfit fit --json`
// prints, for the first GPU compared.

/** The engines' spellings of flags the page has under another name (the CLI takes both). */
const FLAG_ALIASES = {
  'tensor-parallel-size': 'tp', 'tp-size': 'tp', 'pipeline-parallel-size': 'pp', 'pp-size': 'pp',
  'mem-fraction-static': 'gpu-memory-utilization', 'context-length': 'max-model-len',
  'max-running-requests': 'max-num-seqs', 'ctx-size': 'kv-prealloc',
};
const inputOf = (flag) => el(FLAG_ALIASES[flag] || flag);

/** Flags the page has an input for; a plan made only of these can be applied to the form. */
function applicable(flags) {
  return flags.every(([flag]) => flag === 'gpus' || inputOf(flag));
}

/** "--method qlora --lora-rank 8 --grad-ckpt" → [["method", "qlora"], ["lora-rank", "8"], ["grad-ckpt", true]]. */
function parseFlags(text) {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const out = [];
  for (let i = 0; i < words.length; i += 1) {
    if (!words[i].startsWith('--')) continue;
    const next = words[i + 1];
    if (next !== undefined && !next.startsWith('--')) { out.push([words[i].slice(2), next]); i += 1; } else out.push([words[i].slice(2), true]);
  }
  return out;
}

async function applyPlan(flags) {
  for (const [flag, value] of flags) {
    if (flag === 'gpus') {
      // The plan's GPU count is for the first GPU compared, the one the plans are for.
      if (gpus.length) gpus[0] = joinSpec(Number(value), splitSpec(gpus[0]).name);
      continue;
    }
    const input = inputOf(flag);
    // A setting inside the closed "Several GPUs" section: open it, so the change shows (D11).
    const details = input.closest('details');
    if (details) details.open = true;
    if (input.type === 'checkbox') input.checked = value === true || value === 'true';
    else {
      if (input.tagName === 'SELECT' && ![...input.options].some((o) => o.value === value)) input.append(h('option', { value, text: value }));
      input.value = String(value);
    }
    if (flag === 'zero') el('fsdp').value = '';
    if (flag === 'fsdp') el('zero').value = '';
  }
  await run();
  $('#verdict-h').scrollIntoView({ block: 'start' });
  $('#results').focus({ preventScroll: true });
}

function describeLimits(l) {
  if (!l) return 'limits: the search budget ran out first';
  const parts = [];
  parts.push(l.max_batch === null || l.max_batch === undefined
    ? 'no batch fits'
    : `largest batch ${l.max_batch} at ${l.max_batch_context.toLocaleString('en')} tokens`);
  if (l.max_context !== null && l.max_context !== undefined) {
    parts.push(`longest context ${l.max_context.toLocaleString('en')} tokens at batch ${l.max_context_batch}${l.context_limited_by_model ? ' (the model\'s position limit)' : ''}`);
  }
  return parts.join(' · ');
}

/** The fit request for a GPU, and the core's answer (or its error). */
async function fitOf(req, info) {
  // The page's "checkpoint's" dtype is the checkpoint's dtype for fit too (without --dtype,
  // `vramfit fit` starts inference from fp32, what from_pretrained loads by default). A bf16
  // checkpoint on a GPU without bf16 runs in fp16, as the estimate does (D6).
  const fitReq = { ...req, workload: { ...req.workload } };
  if (!isTrain() && !fitReq.workload.dtype && !fitReq.workload.quant && info && info.torch_dtype && !info.quantization) {
    const g = catalog.gpus.find((x) => x.name === splitSpec(req.gpu).name);
    fitReq.workload.dtype = info.torch_dtype === 'bf16' && g && !g.bf16 ? 'fp16' : info.torch_dtype;
  }
  try {
    return { fitReq, answer: await api.fit(fitReq) };
  } catch (e) {
    return { fitReq, error: messageOf(e) };
  }
}

/** A plan's flags, each `--flag value` kept on one line (D21). */
function flagsNode(text) {
  const code = h('code', { class: 'flags' });
  parseFlags(text).forEach(([flag, value], i) => {
    if (i) code.append(' ');
    code.append(h('span', { class: 'flag', text: value === true ? `--${flag}` : `--${flag} ${value}` }));
  });
  return code;
}

function renderPlans(req, fitted) {
  const section = $('#plans');
  lastFit = null;
  if (!fitted || !req.gpu) {
    section.hidden = true;
    return;
  }
  const { fitReq, answer, error } = fitted;
  section.hidden = false;
  if (error) {
    $('#fit-summary').textContent = error;
    for (const id of ['#fit-limits', '#fit-notes', '#plan-list', '#fit-gpus']) $(id).replaceChildren();
    $('#fit-cli').textContent = '';
    $('#fit-json').textContent = '';
    $('#plans-more').hidden = true;
    return;
  }
  lastFit = answer;
  if (answer.as_asked.serving) {
    renderServingPlans(answer, fitReq);
    return;
  }
  const a = answer.as_asked;
  $('#plans-h').textContent = a.fits ? `Room to grow on ${answer.gpu.label}` : `Plans that make it fit on ${answer.gpu.label}`;
  const reserve = `${gib(a.reserve_bytes)} GiB kept free`;
  $('#fit-summary').textContent = a.fits
    ? `Fits as asked: ${gib(a.per_gpu_bytes)} GiB, ${gib(a.headroom_bytes)} GiB free (${reserve}). No change needed.`
    : `${a.tight ? 'Tight' : 'Does not fit'} as asked: ${gib(a.per_gpu_bytes)} GiB per GPU, ${a.tight ? `only ${gib(a.headroom_bytes)} GiB free` : `short by ${gib(-a.headroom_bytes)} GiB`} (${reserve}). `
      + (answer.plans.length ? 'Changes that make it fit, best first (what you asked for kept first, then least quality loss, then speed):' : 'No change within reach makes it fit on this GPU.');
  const grow = describeLimits(answer.limits);
  $('#fit-limits').textContent = a.fits ? `${grow.charAt(0).toUpperCase()}${grow.slice(1)}.` : '';
  $('#fit-notes').replaceChildren(...answer.notes.map((n) => h('li', { text: `note: ${n}` })));
  const items = answer.plans.map((p, i) => {
    const flags = parseFlags(p.flags);
    const apply = applicable(flags)
      ? h('button', { type: 'button', class: 'apply', 'aria-label': `Apply plan ${p.rank}: ${p.flags}` }, 'Apply')
      : h('span', { class: 'hint no-apply', text: 'set on the command line' });
    if (apply.tagName === 'BUTTON') apply.addEventListener('click', () => applyPlan(flags));
    return h('li', { class: 'plan', 'data-rank': p.rank, 'data-flags': p.flags, hidden: i >= MAX_PLANS_SHOWN },
      h('div', { class: 'plan-head' }, flagsNode(p.flags), apply),
      h('p', { class: 'what', text: p.changes.map((c) => c.description).join('; ') }),
      h('p', { class: 'mem', text: `${gib(p.per_gpu_bytes)} GiB per GPU · ${gib(p.headroom_bytes)} GiB free · peak during ${p.peak_phase}` }),
      h('p', { class: 'hint', text: `then: ${describeLimits(p.limits)}` }),
      ...(speedText(p.speed_estimate) ? [h('p', { class: 'speed', text: `speed: ${speedText(p.speed_estimate)}` })] : []),
      h('p', { class: 'cost', text: `cost: ${p.cost}` }));
  });
  $('#plan-list').replaceChildren(...items);
  // Long lists push the charts far down (D16): the first few, and a button for the rest.
  const more = $('#plans-more');
  more.hidden = items.length <= MAX_PLANS_SHOWN;
  more.textContent = `Show all ${items.length} plans`;
  more.onclick = () => {
    for (const li of items) li.hidden = false;
    more.hidden = true;
  };
  const others = answer.limits.gpus_that_fit || [];
  $('#fit-gpus').textContent = !a.fits && others.length
    ? `Catalog GPUs that fit it as asked, smallest first: ${others.map((g) => `${g.name} (${gib(g.usable_bytes)} GiB)`).join(', ')}.`
    : '';
  $('#fit-cli').textContent = cliCommand(fitReq, 'fit');
  $('#fit-json').textContent = JSON.stringify(answer, null, 2);
}

/** Every GPU compared side by side: verdict, headroom, and how far it stretches. */
function renderCompare(results, fits) {
  const rows = results.map((r, i) => ({ r, f: fits[i] })).filter(({ r }) => r.gpu);
  const sec = $('#compare-sec');
  sec.hidden = rows.length < 2;
  if (rows.length < 2) return;
  const cell = (text) => h('td', { text });
  $('#compare').replaceChildren(
    h('thead', {}, h('tr', {}, ...['GPU', 'usable per GPU', 'needs per GPU', 'headroom', 'verdict', 'largest batch', 'longest context']
      .map((t) => h('th', { scope: 'col', text: t })))),
    h('tbody', {}, ...rows.map(({ r, f }) => {
      if (r.error) return h('tr', { 'data-gpu': gpuKey(r.gpu) }, h('th', { scope: 'row', text: r.req.gpu }), h('td', { colspan: 6, text: r.error }));
      const rep = r.report;
      const tight = !rep.fits && rep.headroom_bytes >= 0;
      const l = f && f.answer && f.answer.as_asked && f.answer.as_asked.limits ? f.answer.as_asked.limits : (f && f.answer ? f.answer.limits : null);
      const num = (v) => (v === null || v === undefined ? '—' : Number(v).toLocaleString('en'));
      return h('tr', { 'data-gpu': gpuKey(r.gpu), 'data-fits': String(rep.fits) },
        h('th', { scope: 'row', text: rep.gpu.label }),
        cell(`${gib(rep.gpu.usable_bytes)} GiB`),
        cell(`${gib(rep.per_gpu_bytes)} GiB`),
        cell(`${rep.headroom_bytes < 0 ? '−' : ''}${gib(Math.abs(rep.headroom_bytes))} GiB`),
        cell(rep.fits ? 'fits' : tight ? 'tight' : 'does not fit'),
        cell(l ? num(l.max_batch) : '—'),
        cell(l ? num(l.max_context) : '—'));
    })));
}

/** On a phone, the answer first (D10): each verdict in one line and the best plan, above the form. */
function renderAnswer(results, fitted) {
  const box = $('#answer');
  const withGpu = results.filter((r) => r.gpu && r.report);
  box.hidden = !withGpu.length;
  if (!withGpu.length) return;
  const plan = fitted && fitted.answer && !fitted.answer.as_asked.fits && fitted.answer.plans[0];
  box.replaceChildren(
    h('ul', { class: 'answer-list' }, ...withGpu.map((r) => {
      const rep = r.report;
      const tight = !rep.fits && rep.headroom_bytes >= 0;
      const word = rep.fits ? 'fits' : tight ? 'tight' : 'does not fit';
      return h('li', { class: rep.fits ? 'fits' : tight ? 'tight' : 'nofit', 'data-gpu': gpuKey(r.gpu) },
        h('b', { text: rep.gpu.label }), ` ${word} · needs ${gib(rep.per_gpu_bytes)} GiB · `,
        rep.headroom_bytes >= 0 ? `${gib(rep.headroom_bytes)} GiB free` : `${gib(-rep.headroom_bytes)} GiB short`);
    })),
    plan ? h('p', { class: 'answer-plan' }, 'Best change: ', flagsNode(plan.flags), ` → ${gib(plan.per_gpu_bytes)} GiB`) : null,
    h('p', {}, h('a', { href: '#results' }, 'Details'), ' · ', h('a', { href: '#inputs' }, 'Change the settings')));
}

// ---------------------------------------------------------------------------------------
// Hugging Face: config.json fetched by the browser, only on request.

function hubUrl(id, rev) {
  return `https://huggingface.co/${id}/resolve/${encodeURIComponent(rev || 'main')}/config.json`;
}

/** "org/name", or a Hub page's address with its revision ("…/org/name/tree/v2", D26). */
function hubId(text) {
  const t = text.trim().replace(/^https?:\/\/(www\.)?huggingface\.co\//, '').replace(/[?#].*$/, '').replace(/\/+$/, '');
  const m = /^([\w.-]+\/[\w.-]+)(?:\/(?:tree|blob|resolve)\/([^/]+)(?:\/.*)?)?$/.exec(t);
  return m ? { id: m[1], rev: m[2] ? decodeURIComponent(m[2]) : null } : { id: t, rev: null };
}

async function fetchHub() {
  const parsed = hubId(el('hf').value);
  const id = parsed.id;
  if (parsed.rev && !el('hf-rev').value.trim()) el('hf-rev').value = parsed.rev;
  if (id !== el('hf').value.trim()) el('hf').value = id;
  const rev = el('hf-rev').value.trim();
  const status = $('#hf-status');
  clearErrors();
  if (!/^[\w.-]+\/[\w.-]+$/.test(id)) {
    status.textContent = '';
    showError('Repo id: give it as org/name, e.g. mistralai/Mistral-7B-v0.1', 'hf');
    return;
  }
  status.textContent = `Fetching ${id} config.json…`;
  const url = hubUrl(id, rev);
  let text;
  try {
    const res = await fetch(url, { credentials: 'omit', signal: AbortSignal.timeout(20000) });
    if (res.status === 401 || res.status === 403) throw new Error(`${id} is gated or private: download its config.json and paste it`);
    if (res.status === 404) throw new Error(`${id}${rev ? `@${rev}` : ''} has no config.json on the Hub (check the id and revision)`);
    if (!res.ok) throw new Error(`the Hub answered HTTP ${res.status}; try again, or paste the config.json`);
    text = await res.text();
    if (text.length > 4 << 20) throw new Error('that config.json is over 4 MiB: not a model config');
  } catch (e) {
    status.textContent = '';
    showError(e.name === 'TimeoutError' ? 'the Hub did not answer in 20 s; try again, or paste the config.json' : (e.message.startsWith('Failed to fetch') ? `cannot reach huggingface.co (${e.message}); paste the config.json instead` : e.message), 'hf');
    return;
  }
  try {
    await api.model({ model: id, config: text });
  } catch (e) {
    status.textContent = '';
    showError(messageOf(e), 'hf');
    return;
  }
  hubConfig = { id, rev, text, bytes: new TextEncoder().encode(text).length };
  status.textContent = `Read ${id} config.json (${text.length} bytes).`;
  run();
}

// ---------------------------------------------------------------------------------------
// Which GGUF file of a Hub repo fits: read only when asked (gguf-repo.js), then judged on
// the first GPU at every run, as `vramfit fit ORG/NAME-GGUF` judges them.

async function fetchGguf() {
  const parsed = hubId(el('hf').value);
  const id = parsed.id;
  if (parsed.rev && !el('hf-rev').value.trim()) el('hf-rev').value = parsed.rev;
  if (id !== el('hf').value.trim()) el('hf').value = id;
  const rev = el('hf-rev').value.trim() || 'main';
  const status = $('#hf-status');
  clearErrors();
  if (!/^[\w.-]+\/[\w.-]+$/.test(id)) {
    status.textContent = '';
    showError('Repo id: give it as org/name, e.g. bartowski/Llama-3.2-3B-Instruct-GGUF', 'hf');
    return;
  }
  status.textContent = `Listing the GGUF files of ${id}…`;
  // A second press starts over: the first read stops at its next request.
  if (ggufReading) ggufReading.abort();
  const reading = new AbortController();
  ggufReading = reading;
  let read;
  try {
    read = await readRepo(api, id, rev, {
      signal: AbortSignal.any([reading.signal, AbortSignal.timeout(120000)]),
      onProgress: (p) => { status.textContent = `Reading GGUF headers: ${p.done} of ${p.total} files (${p.bytes.toLocaleString('en')} bytes in ${p.requests} range requests)…`; },
    });
  } catch (e) {
    if (reading.signal.aborted && ggufReading !== reading) return;
    status.textContent = '';
    ggufRepo = null;
    lastGguf = null;
    $('#gguf-sec').hidden = true;
    for (const p of $$('#answer .answer-gguf')) p.remove();
    showError(e.name === 'TimeoutError' ? 'the Hub did not answer in 120 s; try again' : (e instanceof HubError ? e.message : messageOf(e)), 'hf');
    return;
  }
  if (ggufReading !== reading) return;
  ggufRepo = { id, rev, ...read };
  // A GGUF file runs on llama.cpp: its settings (-ngl, context) show.
  if (el('runtime').value !== 'llama.cpp') el('runtime').value = 'llama.cpp';
  status.textContent = `Read the headers of ${read.models.length} GGUF model${read.models.length > 1 ? 's' : ''} of ${id}: ${read.bytes.toLocaleString('en')} bytes in ${read.requests} range requests.`;
  await run();
}

async function ggufRun(stale) {
  const sec = $('#gguf-sec');
  if (!ggufRepo || source() !== 'hf') {
    sec.hidden = true;
    lastGguf = null;
    return;
  }
  sec.hidden = false;
  const { workload, errors } = workloadFromForm();
  const clear = (why) => {
    lastGguf = null;
    $('#gguf-summary').textContent = why;
    for (const id of ['#gguf', '#gguf-cli', '#gguf-json', '#gguf-read']) $(id).replaceChildren();
  };
  if (errors.length) return clear(`--${errors[0][0]}: ${errors[0][1]}`);
  if (!gpus.length) return clear('Add a GPU: the table says which file fits it.');
  const req = { model: ggufRepo.id, gpu: gpus[0], workload };
  let table;
  try {
    table = await api.ggufTable({
      request: req,
      repo: ggufRepo.repo,
      handles: ggufRepo.models.map((m) => m.handle).filter((x) => x !== null && x !== undefined),
      bytes_transferred: ggufRepo.bytes,
      requests: ggufRepo.requests,
    });
  } catch (e) {
    if (!stale()) clear(messageOf(e));
    return;
  }
  if (stale()) return;
  renderGguf(req, table);
}

/** The verdict words of `vramfit fit ORG/NAME-GGUF`'s table. */
function ggufVerdict(f) {
  if (!f.fit) return `cannot estimate: ${f.error}`;
  const r = f.fit;
  if (r.fits_fully) return 'fits fully';
  if (r.layers_offloaded === 0) return 'does not fit (no layer)';
  if (r.layers_offloaded !== null) return `-ngl ${r.layers_offloaded} of ${r.layers_total} fits`;
  return 'does not fit';
}

function renderGguf(req, t) {
  lastGguf = t;
  $('#gguf-h').textContent = `Which GGUF file of ${t.repo} fits`;
  const ctx = t.ctx_size ? `${t.ctx_size.toLocaleString('en')} tokens of context` : 'the default context (batch × (prompt + new tokens))';
  const fully = t.files.filter((f) => f.fit && f.fit.fits_fully).sort((a, b) => b.bytes - a.bytes);
  const best = fully[0];
  const type = (f) => (f.file_type ? ` ${f.file_type}` : '');
  $('#gguf-summary').textContent = best
    ? `On ${t.gpu} at ${ctx}, ${fully.length} of ${t.files.length} run with every layer on the GPU; the largest is ${best.file}${type(best)} (${gib(best.bytes)} GiB).`
    : `On ${t.gpu} at ${ctx}, no file runs with every layer on the GPU: the table says how many layers (-ngl) fit, and which KV cache type would make it fit.`;
  const num = (v) => (v === null || v === undefined ? '—' : Number(v).toLocaleString('en'));
  $('#gguf').replaceChildren(
    h('thead', {}, h('tr', {}, ...['file', 'GiB', 'type', 'verdict', 'longest context, all layers on the GPU', 'KV cache type that fits']
      .map((x) => h('th', { scope: 'col', text: x })))),
    h('tbody', {}, ...t.files.map((f) => {
      const v = ggufVerdict(f);
      const kv = f.fit ? (f.fit.kv_type_to_fit || (f.fit.fits_fully ? '—' : 'none')) : '';
      return h('tr', { 'data-file': f.file, 'data-verdict': v, class: f.fit && f.fit.fits_fully ? 'fits' : '' },
        h('th', { scope: 'row', text: f.parts.length > 1 ? `${f.file} (${f.parts.length} parts)` : f.file }),
        h('td', { text: gib(f.bytes) }),
        h('td', { text: f.file_type || '—' }),
        h('td', { text: v }),
        h('td', { text: f.fit ? num(f.fit.max_context_full) : '' }),
        h('td', { text: kv }));
    })));
  // On a phone, the answer first (D10): the best file in the answer card.
  const answer = $('#answer');
  if (answer.hidden) answer.replaceChildren();
  answer.hidden = false;
  answer.append(h('p', { class: 'answer-gguf' }, h('b', { text: `${t.gpu}: ` }),
    best ? `${best.file}${type(best)} is the largest GGUF file that fits fully` : 'no GGUF file of the repo fits fully',
    ' · ', h('a', { href: '#gguf-sec' }, 'the table')));
  $('#gguf-read').textContent = `Read ${t.bytes_transferred.toLocaleString('en')} bytes from huggingface.co (the listing and ${t.requests} range requests) for ${t.header_bytes.toLocaleString('en')} bytes of headers; the files themselves were not downloaded.`;
  const model = ggufRepo.rev && ggufRepo.rev !== 'main' ? `${req.model}@${ggufRepo.rev}` : req.model;
  $('#gguf-cli').textContent = cliCommand({ ...req, model }, 'fit');
  $('#gguf-json').textContent = JSON.stringify(t, null, 2);
}

// ---------------------------------------------------------------------------------------
// Wiring

async function addGpu() {
  const name = el('gpu-add').value.trim();
  const size = el('gpu-custom').value.trim();
  clearErrors();
  for (const [value, input] of [[name, 'gpu-add'], [size, 'gpu-custom']]) {
    if (!value) continue;
    let spec;
    try {
      spec = await api.gpu(value);
    } catch (e) {
      showError(messageOf(e), input);
      return;
    }
    // Catalog GPUs by their canonical name, sizes without spaces ("16 GB" = "16GB", D25);
    // a count typed with it ("2xT4") wins over the count field.
    const plain = value.replace(/^\d+\s*[x×]\s*/i, '');
    const name1 = spec.gpu ? spec.gpu.name : plain.replace(/\s+/g, '');
    const n = spec.count > 1 ? spec.count : (count() || 1);
    const existing = gpus.findIndex((g) => splitSpec(g).name.toLowerCase() === name1.toLowerCase());
    if (existing >= 0) gpus[existing] = joinSpec(n, splitSpec(gpus[existing]).name);
    else gpus.push(joinSpec(n, name1));
    el(input).value = '';
  }
  el('count').value = '1';
  await run();
}

/**
 * The form from the core's options(): each enumerated flag's select lists the values of its
 * table with their labels (an empty first option when the flag may be left unset), and every
 * input starts at the request's default. Nothing here repeats the core's lists or defaults.
 */
function buildForm(opts) {
  for (const [flag, field] of Object.entries(opts.fields)) {
    const select = el(flag);
    if (!select) continue;
    const fallback = opts.defaults[flag];
    const def = fallback === null || fallback === undefined ? '' : String(fallback);
    const items = field.unset === null ? field.choices : [{ value: '', label: field.unset }, ...field.choices];
    select.replaceChildren(...items.map((c) => {
      const o = h('option', { value: c.value, text: c.label, 'data-label': c.label });
      if (c.value === def) { o.defaultSelected = true; o.selected = true; }
      return o;
    }));
  }
  for (const f of FIELDS) {
    const input = el(f.flag);
    const d = opts.defaults[f.flag];
    if (input.type === 'number' && typeof d === 'number') input.defaultValue = String(d);
    else if (input.type === 'checkbox' && typeof d === 'boolean') input.defaultChecked = d;
  }
  LORA_METHODS = new Set(opts.lora_methods);
}

function debounce(f, ms) {
  let t;
  return (...a) => { clearTimeout(t); t = setTimeout(() => f(...a), ms); };
}

async function main() {
  const t0 = performance.now();
  try {
    api = await start();
  } catch (e) {
    $('#loading').textContent = `Could not load the WebAssembly core: ${e.message}. Serve web/ over HTTP (python3 -m http.server -d web) after bash web/build.sh.`;
    return;
  }
  performance.mark('vramfit:loaded');
  const [models, gpuList, options] = await Promise.all([api.models(), api.gpus(), api.options()]);
  catalog = { models, gpus: gpuList };
  buildForm(options);
  performance.mark('vramfit:catalog');
  $('#model-list').replaceChildren(...catalog.models.map((m) => h('option', { value: m.name, label: m.hf_id })));
  $('#gpu-list').replaceChildren(...catalog.gpus.map((g) => h('option', { value: g.name, label: `${(g.usable_bytes / GIB).toFixed(1)} GiB usable · ${g.vendor} ${g.architecture}` })));

  readUrl();
  await run();
  performance.mark('vramfit:first-result');
  $('#loading').remove();

  // Typing waits for a pause; <html data-pending> says a run is due or in flight (the e2e
  // test waits on it).
  const debounced = debounce(() => { busy.debounce = false; run(); }, 150);
  const later = () => { busy.debounce = true; showBusy(); debounced(); };
  $('#inputs').addEventListener('input', (e) => {
    if (['gpu-add', 'gpu-custom', 'hf', 'hf-rev', 'count'].includes(e.target.id) || e.target.classList.contains('chip-n')) return;
    if (e.target.type === 'radio' || e.target.tagName === 'SELECT' || e.target.type === 'checkbox') run();
    else later();
  });
  $('#inputs').addEventListener('submit', (e) => e.preventDefault());
  el('over').addEventListener('change', run);
  for (const id of ['gpu-add', 'gpu-custom']) {
    el(id).addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); action(addGpu); } });
  }
  el('gpu-add').addEventListener('change', () => {
    // Picking from the list adds at once; typing waits for Enter or the button.
    if (catalog.gpus.some((g) => g.name === el('gpu-add').value.trim())) action(addGpu);
  });
  el('gpu-add-btn').addEventListener('click', () => action(addGpu));
  el('hf-fetch').addEventListener('click', () => action(fetchHub));
  el('hf-gguf').addEventListener('click', () => action(fetchGguf));
  el('hf').addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); action(fetchHub); } });
  el('copy-link').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(location.href);
      $('#copy-status').textContent = 'Link copied.';
    } catch {
      $('#copy-status').textContent = `Copy this link: ${location.href}`;
    }
  });
  let width = window.innerWidth;
  window.addEventListener('resize', debounce(() => {
    if (window.innerWidth !== width && lastReport) { width = window.innerWidth; run(); }
  }, 200));

  document.documentElement.dataset.ready = '1';
  window.vramfitPage = {
    readyMs: performance.now(),
    startMs: t0,
    report: () => lastReport,
    sweep: () => lastSweep,
    fit: () => lastFit,
    gguf: () => lastGguf,
    verdictMs: () => lastVerdictMs,
    info: api.infoNow,
    worker: api.worker,
    coreBusy: () => api.busy(),
  };
}

main();

/** `fit` for a serving engine: the verdict as asked, the limits, plans over the engine's levers. */
function renderServingPlans(answer, fitReq) {
  const a = answer.as_asked;
  const l = answer.limits;
  $('#plans-h').textContent = a.fits ? `Room to grow on ${answer.gpu.label}` : `Plans that make it serve on ${answer.gpu.label}`;
  $('#fit-summary').textContent = `As asked: ${servingLine(a.serving)}.`
    + (a.fits ? '' : (answer.plans.length ? ' Changes that make it serve, cheapest first:' : ' No single change or pair of changes makes it serve on this GPU.'));
  const num = (x) => (x === null || x === undefined ? 'none' : x.toLocaleString('en'));
  $('#fit-limits').textContent = `Longest max_model_len that starts: ${num(l.max_model_len)}; with ${l.concurrency} request(s) of it at once: ${num(l.max_model_len_at_concurrency)}.`
    + (l.gpu_memory_utilization_to_start ? ` Starts with gpu_memory_utilization ${l.gpu_memory_utilization_to_start.toFixed(2)} or more.` : '');
  $('#fit-notes').replaceChildren(...answer.notes.map((n) => h('li', { text: `note: ${n}` })));
  $('#plan-list').replaceChildren(...answer.plans.map((p) => {
    const flags = parseFlags(p.flags);
    const apply = applicable(flags)
      ? h('button', { type: 'button', class: 'apply', 'aria-label': `Apply plan ${p.rank}: ${p.flags}` }, 'Apply')
      : h('span', { class: 'hint no-apply', text: 'set on the command line' });
    if (apply.tagName === 'BUTTON') apply.addEventListener('click', () => applyPlan(flags));
    return h('li', { class: 'plan', 'data-rank': p.rank, 'data-flags': p.flags },
      h('div', { class: 'plan-head' }, flagsNode(p.flags), apply),
      h('p', { class: 'what', text: servingLine(p.serving) }),
      h('p', { class: 'cost', text: `cost: ${p.cost}` }));
  }));
  $('#plans-more').hidden = true;
  $('#fit-gpus').textContent = '';
  $('#fit-cli').textContent = cliCommand(fitReq, 'fit');
  $('#fit-json').textContent = JSON.stringify(answer, null, 2);
}

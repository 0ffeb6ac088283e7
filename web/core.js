// The page's handle on the vramfit core: in a Web Worker when the browser can run module
// workers (the page never waits on a fit), else on the main thread. Every function returns a
// promise; a CoreError is an error about the input, anything else a bug in vramfit.

import { load, CoreError } from './vramfit.js';

export { CoreError };

const NAMES = ['info', 'options', 'models', 'gpus', 'gpu', 'model', 'estimate', 'sweep', 'fit',
  'ggufListing', 'ggufStep', 'ggufModel', 'ggufClear', 'ggufTable'];

function inWorker() {
  const worker = new Worker(new URL('worker.js', import.meta.url), { type: 'module' });
  let next = 0;
  const waiting = new Map();
  worker.onmessage = ({ data }) => {
    const w = waiting.get(data.id);
    if (!w) return;
    waiting.delete(data.id);
    if ('error' in data) w.reject(data.core ? new CoreError(data.error) : new Error(data.error));
    else w.resolve(data.ok);
  };
  const failAll = (e) => {
    for (const w of waiting.values()) w.reject(new Error(e.message || 'the worker stopped'));
    waiting.clear();
  };
  worker.onerror = failAll;
  const call = (name, ...args) => new Promise((resolve, reject) => {
    next += 1;
    waiting.set(next, { resolve, reject });
    worker.postMessage({ id: next, name, args });
  });
  // Calls the worker has not answered yet (the page's busy() while the core computes).
  return { ...Object.fromEntries(NAMES.map((n) => [n, (...a) => call(n, ...a)])), busy: () => waiting.size };
}

/** Start the core; resolves once it answers (so a broken module fails here, not later). */
export async function start() {
  if (typeof Worker !== 'undefined') {
    try {
      const api = inWorker();
      const info = await Promise.race([
        api.info(),
        new Promise((_, reject) => { setTimeout(() => reject(new Error('the worker did not start')), 8000); }),
      ]);
      return { ...api, worker: true, infoNow: info };
    } catch {
      // No module workers (or the worker failed to load): run on the main thread.
    }
  }
  const direct = await load();
  const api = Object.fromEntries(NAMES.map((n) => [n, async (...a) => {
    if (!direct[n]) throw new Error(`the core has no ${n}`);
    return direct[n](...a);
  }]));
  // On the main thread a call is over before anything else can look: never seen busy.
  return { ...api, busy: () => 0, worker: false, infoNow: direct.info() };
}

// The vramfit core in a Web Worker: the page posts {id, name, args} and gets {id, ok} or
// {id, error} back, so a slow fit never blocks typing. The same functions as vramfit.js.

import { load, CoreError } from './vramfit.js';

const ready = load();

self.onmessage = async ({ data }) => {
  const { id, name, args } = data;
  try {
    const api = await ready;
    const f = api[name];
    if (!f) throw new Error(`the core has no ${name}`);
    self.postMessage({ id, ok: f(...args) });
  } catch (e) {
    self.postMessage({ id, error: e.message, core: e instanceof CoreError });
  }
};

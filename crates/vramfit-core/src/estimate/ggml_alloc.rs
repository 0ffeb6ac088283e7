//! ggml's graph allocator in measure mode: the size of the buffer it asks for is the highest
//! address its best-fit free list reaches while the graph's tensors are placed in execution
//! order, fragmentation included (not just the largest set of tensors alive at once).
//!
//! Sources (ggml-org/llama.cpp; the same algorithm in `ggml-alloc.c` v2, Nov 2023 – Feb 2024,
//! `ggml_tallocr` in measure mode, and v3 `ggml_dyn_tallocr`, read at ggerganov/llama.cpp
//! 0425305d `ggml-alloc.c`):
//! - `ggml_dyn_tallocr_alloc`: the size is padded to the alignment; the best-fitting free
//!   block other than the last (the open-ended tail) is used, the smallest that fits, the
//!   later one on a tie; else the tail; `max_size = max(max_size, offset + size)`.
//! - `ggml_dyn_tallocr_free_tensor`: a freed range merges with the free block it ends or
//!   starts (and that block with its neighbour), else is inserted in address order.
//! - `ggml_gallocr_alloc_graph_impl`: children and views are counted first; each node in
//!   order is placed (views take their source's memory; an in-place op, `ggml_op_can_inplace`,
//!   reuses a parent with one child, no views and the same layout, or a view's source when
//!   that view is its only one); then each parent whose children and views are all done is
//!   freed (a view's source when its last view is done), unless the node reused it.
//! - `ggml_visit_parents`: a graph's nodes are its sources depth first, left to right,
//!   before itself, in the order the graph was expanded.

/// One tensor of a graph: what the allocator needs to know about it.
#[derive(Debug, Clone)]
struct Tensor {
    bytes: u64,
    srcs: Vec<usize>,
    /// The tensor whose memory this view shares (its root: views of views collapse).
    view_of: Option<usize>,
    /// `ggml_op_can_inplace` (ADD, MUL, DIV, UNARY, ROPE, RMS_NORM, SOFT_MAX, SCALE, ...).
    inplace: bool,
    /// Memory this allocator does not own (weights, the KV cache): never placed or freed.
    external: bool,
    /// A view whose strides differ from a contiguous tensor's (permute, transpose, a slice):
    /// `ggml_are_same_layout` fails, so no in-place op reuses it.
    strided: bool,
}

/// A graph under construction: tensors by index, and the execution order of its nodes.
#[derive(Debug, Default)]
pub(crate) struct Graph {
    tensors: Vec<Tensor>,
    order: Vec<usize>,
    visited: Vec<bool>,
    /// Tensors placed before the graph (inputs the build allocated as it went).
    placed_first: Vec<usize>,
    /// `ggml_gallocr` (the backend scheduler's allocator, 2024 on) marks only the tensors it
    /// placed as its own (`hash_node.allocated`), never a view, so an in-place op never
    /// reuses a view parent; the measure allocator before it did (a view's data lay in its
    /// buffer).
    no_view_reuse: bool,
}

impl Graph {
    /// A graph for `ggml_gallocr`, the allocator behind `ggml_backend_sched` (in-place ops
    /// never reuse a view: `ggml_gallocr_is_own` is false for views).
    pub(crate) fn for_gallocr() -> Self {
        Graph { no_view_reuse: true, ..Graph::default() }
    }
    /// A tensor outside the allocator: a weight or a KV cache buffer.
    pub(crate) fn external(&mut self) -> usize {
        self.push(Tensor { bytes: 0, srcs: Vec::new(), view_of: None, inplace: false, external: true, strided: false })
    }
    /// An input the graph build allocated at once (`ggml_allocr_alloc` in the callback), from
    /// the same allocator, before the graph; freed after its last use like any node.
    pub(crate) fn input(&mut self, bytes: u64) -> usize {
        let id = self.push(Tensor {
            bytes,
            srcs: Vec::new(),
            view_of: None,
            inplace: false,
            external: false,
            strided: false,
        });
        self.placed_first.push(id);
        self.visited[id] = true;
        id
    }
    /// An op writing a new tensor of `bytes`.
    pub(crate) fn op(&mut self, bytes: u64, srcs: &[usize]) -> usize {
        self.push(Tensor { bytes, srcs: srcs.to_vec(), view_of: None, inplace: false, external: false, strided: false })
    }
    /// An op ggml-alloc may run in its first eligible parent's memory.
    pub(crate) fn op_inplace(&mut self, bytes: u64, srcs: &[usize]) -> usize {
        self.push(Tensor { bytes, srcs: srcs.to_vec(), view_of: None, inplace: true, external: false, strided: false })
    }
    /// A view (reshape, permute, transpose, view, a copy's destination) of `of`.
    pub(crate) fn view(&mut self, of: usize, srcs: &[usize]) -> usize {
        let root = self.tensors[of].view_of.unwrap_or(of);
        let bytes = self.tensors[root].bytes;
        self.push(Tensor {
            bytes,
            srcs: srcs.to_vec(),
            view_of: Some(root),
            inplace: false,
            external: false,
            strided: false,
        })
    }
    /// A view with other strides than its source's (`ggml_permute`, `ggml_transpose`, a
    /// `ggml_view_3d` slice): shares the memory like [`Graph::view`], never reused in place.
    pub(crate) fn strided_view(&mut self, of: usize, srcs: &[usize]) -> usize {
        let id = self.view(of, srcs);
        self.tensors[id].strided = true;
        id
    }
    /// The graph's nodes so far (ops and views, as `ggml_graph_n_nodes` counts them).
    pub(crate) fn nodes(&self) -> usize {
        self.order.len()
    }
    fn push(&mut self, t: Tensor) -> usize {
        self.tensors.push(t);
        self.visited.push(false);
        self.tensors.len() - 1
    }
    /// `ggml_build_forward_expand`: append `id`'s unvisited sources, depth first and left to
    /// right, then `id` itself.
    pub(crate) fn expand(&mut self, id: usize) {
        let mut stack = vec![(id, 0usize)];
        while let Some((n, next)) = stack.pop() {
            if next == 0 && self.visited[n] {
                continue;
            }
            self.visited[n] = true;
            if let Some(&s) = self.tensors[n].srcs.get(next) {
                stack.push((n, next + 1));
                if !self.visited[s] {
                    stack.push((s, 0));
                }
            } else if !self.tensors[n].external {
                self.order.push(n);
            }
        }
    }

    /// The measure allocator's size for this graph at `alignment`.
    pub(crate) fn measure(&self, alignment: u64) -> u64 {
        let mut alloc = FreeList::new(alignment);
        let n = self.tensors.len();
        let mut children = vec![0u32; n];
        let mut views = vec![0u32; n];
        for &id in &self.order {
            for &s in &self.tensors[id].srcs {
                children[s] += 1;
            }
            if let Some(v) = self.tensors[id].view_of {
                views[v] += 1;
            }
        }
        let mut at: Vec<Option<u64>> = vec![None; n];
        for &id in &self.placed_first {
            at[id] = Some(alloc.alloc(self.tensors[id].bytes));
        }
        for &id in &self.order {
            let t = &self.tensors[id];
            if let Some(v) = t.view_of {
                at[id] = at[v];
            } else {
                let reuse = t.inplace.then(|| self.reusable_parent(id, &children, &views, &at)).flatten();
                at[id] = Some(reuse.unwrap_or_else(|| alloc.alloc(t.bytes)));
            }
            for &p in &t.srcs {
                children[p] -= 1;
                if children[p] != 0 || views[p] != 0 {
                    continue;
                }
                let pt = &self.tensors[p];
                let owner = match pt.view_of {
                    Some(v) => {
                        views[v] -= 1;
                        (views[v] == 0 && children[v] == 0).then_some(v)
                    }
                    None => Some(p),
                };
                if let Some(o) = owner {
                    let ot = &self.tensors[o];
                    if !ot.external && ot.view_of.is_none() && at[o].is_some() && at[o] != at[id] {
                        alloc.free(at[o].unwrap_or(0), ot.bytes);
                    }
                }
            }
        }
        alloc.max_size
    }

    fn reusable_parent(&self, id: usize, children: &[u32], views: &[u32], at: &[Option<u64>]) -> Option<u64> {
        let t = &self.tensors[id];
        for &p in &t.srcs {
            let pt = &self.tensors[p];
            if pt.external || pt.strided || at[p].is_none() || children[p] != 1 || views[p] != 0 || pt.bytes != t.bytes
            {
                continue;
            }
            match pt.view_of {
                Some(_) if self.no_view_reuse => {}
                // a view parent: only when it is its source's one view, at offset zero
                Some(v) if views[v] == 1 && children[v] == 0 && !self.tensors[v].external => return at[v],
                Some(_) => {}
                None => return at[p],
            }
        }
        None
    }
}

/// The best-fit free list of `ggml_dyn_tallocr`, measuring (an open-ended last block).
struct FreeList {
    alignment: u64,
    /// (offset, size), sorted by offset; the last is the open-ended tail.
    blocks: Vec<(u64, u64)>,
    max_size: u64,
}

impl FreeList {
    fn new(alignment: u64) -> Self {
        FreeList { alignment: alignment.max(1), blocks: vec![(0, u64::MAX / 2)], max_size: 0 }
    }
    fn pad(&self, bytes: u64) -> u64 {
        bytes.div_ceil(self.alignment).saturating_mul(self.alignment)
    }
    fn alloc(&mut self, bytes: u64) -> u64 {
        let size = self.pad(bytes);
        let last = self.blocks.len() - 1;
        let mut best: Option<(usize, u64)> = None;
        for (i, &(_, s)) in self.blocks[..last].iter().enumerate() {
            if s >= size && best.is_none_or(|(_, b)| s <= b) {
                best = Some((i, s));
            }
        }
        let i = best.map_or(last, |b| b.0);
        let (offset, s) = self.blocks[i];
        if s == size && i != last {
            self.blocks.remove(i);
        } else {
            self.blocks[i] = (offset + size, s - size);
        }
        self.max_size = self.max_size.max(offset.saturating_add(size));
        offset
    }
    fn free(&mut self, offset: u64, bytes: u64) {
        let size = self.pad(bytes);
        for i in 0..self.blocks.len() {
            let (o, s) = self.blocks[i];
            if o + s == offset {
                self.blocks[i].1 += size;
                if i + 1 < self.blocks.len() && self.blocks[i].0 + self.blocks[i].1 == self.blocks[i + 1].0 {
                    self.blocks[i].1 += self.blocks[i + 1].1;
                    self.blocks.remove(i + 1);
                }
                return;
            }
            if offset + size == o {
                self.blocks[i] = (offset, s + size);
                if i > 0 && self.blocks[i - 1].0 + self.blocks[i - 1].1 == offset {
                    self.blocks[i - 1].1 += self.blocks[i].1;
                    self.blocks.remove(i);
                }
                return;
            }
        }
        let at = self.blocks.iter().position(|&(o, _)| o > offset).unwrap_or(self.blocks.len());
        self.blocks.insert(at, (offset, size));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_freed_hole_too_small_for_the_next_tensor_leaves_the_buffer_larger_than_the_live_set() {
        // a (4) and b (2) alive; a freed; c (6) does not fit a's hole: placed after b.
        let mut g = Graph::default();
        let a = g.op(4 * 32, &[]);
        let b = g.op(2 * 32, &[a]);
        let c = g.op(6 * 32, &[b]);
        g.expand(c);
        // live at once: at most b + c = 8 blocks; the allocator reaches 4 + 2 + 6 = 12.
        assert_eq!(g.measure(32), 12 * 32);
    }

    #[test]
    fn in_place_ops_reuse_their_parent_and_views_keep_their_source_alive() {
        let mut g = Graph::default();
        let x = g.op(100, &[]);
        let y = g.op_inplace(100, &[x]); // reuses x: x has one child
        let v = g.view(y, &[y]);
        let z = g.op(50, &[v]); // y is alive until its view is used
        g.expand(z);
        // x/y at 0..128 (aligned to 32), z after it.
        assert_eq!(g.measure(32), 128 + 64);
    }

    #[test]
    fn the_tail_block_is_the_last_resort_and_best_fit_picks_the_smallest_hole() {
        let mut f = FreeList::new(1);
        let a = f.alloc(10);
        let _b = f.alloc(1);
        let c = f.alloc(5);
        let _d = f.alloc(1);
        f.free(a, 10);
        f.free(c, 5);
        // a 4-byte tensor goes into the 5-byte hole, not the 10-byte one.
        assert_eq!(f.alloc(4), c);
        assert_eq!(f.max_size, 17);
    }
}

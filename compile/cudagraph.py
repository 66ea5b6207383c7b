"""One CUDA graph per call shape over the whole DiT forward (all blocks, embeddings, RoPE, head).

Why: each forward launches ~600 kernels through 30 regional-compile calls (Dynamo guards, the FA3
custom op, the eager embeddings and head); a graph replay launches the whole forward at once, so the
host can never hold the GPU back. Measured on the H100 (BENCHMARKS.md, 2026-11-26): 88.4 vs 89.2 ms per
latent frame with regional compile and FA3, 0.9%: the host already keeps ahead there, and the idle
time the kernel profile suggests is not launch overhead. It matters more where the host is slower
than the kernels (eager kernels, smaller shapes).

Why it is safe here: everything a forward reads that changes between calls of the same shape enters
through a few small device tensors that are copied into the graph's static inputs before each replay
(latents x, timesteps t, and the plan: RoPE frame positions, cache write indices, the re-cache sample
mask); everything else it reads lives at fixed addresses (weights, the RoPE tables, the ring KV cache
and the cross-attention cache, both written in place). The host-side bookkeeping (slot -> frame, RoPE
re-base offset) stays on the host: it only decides those tensors' values. Shapes (window fill level,
re-cache length, masked or not) pick the graph. The output lives in the graph's memory and is cloned
before the next replay can overwrite it (600 KB per call for the real shapes).

Capture happens the first time a shape is met, right after that call ran normally (so torch.compile
has compiled it and every lazy initialisation is done): capture records kernels without running them,
so the cache is written once. All graphs share one memory pool (`shared_pool`, with the VAE's pass graphs
below); each holds only its static inputs and output, so intermediates are reused across graphs (they
never run concurrently: one stream, one call at a time).

`GraphedVAEPasses` does the same for the VAE decoder's streaming passes (compiled: ~300 kernels a pass,
three passes a block, each launched from Python through Dynamo's guards, cuDNN and the Triton launcher).
Its graphs live on the stream (`VAEStream.graphs`): they read and write that stream's conv histories at
their fixed addresses, so they are freed with it. A stream's first pass (the first latent frame, another
graph shape, met once per video) runs as it is.
"""
import weakref
from dataclasses import dataclass, replace

import torch


class GraphPool:
    """A CUDA graph memory pool's handle for the graph owners that hold this object. PyTorch refuses to capture
    into a pool whose graphs are all gone before the pool is released (an internal assert), which happens when
    one owner's graphs die before another's first capture: so the pool holds a graph of its own, one tiny
    kernel, for as long as this object lives."""

    def __init__(self):
        self.handle = torch.cuda.graph_pool_handle()
        self._anchor_buf = torch.zeros(1, device="cuda")
        self._anchor, _ = record(self, self._anchor_buf.add_, 1)


def record(pool: GraphPool, fn, *args):
    """Capture fn(*args) into a new CUDA graph in `pool` (the GPU synchronized first); returns (graph, output)."""
    graph = torch.cuda.CUDAGraph()
    torch.cuda.synchronize()
    with torch.cuda.graph(graph, pool=pool.handle):
        out = fn(*args)
    return graph, out


_SHARED = None      # weakref to the live GraphPool


def shared_pool() -> GraphPool:
    """The pool of the graphs that never run concurrently (the DiT's forwards, the VAE's passes): the live
    one if any owner holds it, else a new one."""
    global _SHARED
    pool = _SHARED() if _SHARED is not None else None
    if pool is None:
        pool = GraphPool()
        _SHARED = weakref.ref(pool)
    return pool


@dataclass
class _Graph:
    graph: torch.cuda.CUDAGraph
    x: torch.Tensor
    t: torch.Tensor
    plan: object            # RingPlan with static tensors
    out: object             # the output tensor, or None (a kv_only call)


class GraphedForward:
    """`fn(x, t, plan, kv_only)` (the pipeline's model call) replayed from CUDA graphs, one per call shape
    (and per kv_only: a cache-writes-only call is another graph)."""

    def __init__(self, fn):
        self.fn = fn
        self.graphs = {}
        self.pool = shared_pool()

    @staticmethod
    def key(x, t, plan, kv_only=False):
        return (tuple(x.shape), x.dtype, tuple(t.shape), plan.num_keys, tuple(plan.write_idx.shape),
                plan.write_mask is not None, kv_only)

    def __call__(self, x, t, plan, kv_only: bool = False):
        key = self.key(x, t, plan, kv_only)
        entry = self.graphs.get(key)
        if entry is None:
            out = self.fn(x, t, plan, kv_only)
            self.graphs[key] = self._capture(x, t, plan, kv_only)
            return out
        entry.x.copy_(x)
        entry.t.copy_(t)
        entry.plan.frame_pos.copy_(plan.frame_pos)
        entry.plan.write_idx.copy_(plan.write_idx)
        if plan.write_mask is not None:
            entry.plan.write_mask.copy_(plan.write_mask)
        entry.graph.replay()
        return None if entry.out is None else entry.out.clone()

    def _capture(self, x, t, plan, kv_only) -> _Graph:
        sx, st = x.clone(), t.clone()
        splan = replace(plan, frame_pos=plan.frame_pos.clone(), write_idx=plan.write_idx.clone(),
                        write_mask=None if plan.write_mask is None else plan.write_mask.clone())
        graph, out = record(self.pool, self.fn, sx, st, splan, kv_only)
        return _Graph(graph, sx, st, splan, out)


@dataclass
class _PassGraph:
    graph: torch.cuda.CUDAGraph
    z: torch.Tensor
    out: torch.Tensor


class GraphedVAEPasses:
    """`WanVAEDecoder.pass_runner`: each streaming pass `vae(z, state.caches, first)` replayed from a CUDA
    graph per (stream, z shape and dtype), captured right after the shape's first pass ran normally; a
    stream's first pass runs as it is. `pool`: a GraphPool (default `shared_pool()`; give a fresh
    `GraphPool()` when the passes run concurrently with the DiT's graphs, as a decode on a second stream
    does)."""

    def __init__(self, pool: GraphPool = None):
        self.pool = pool or shared_pool()

    def __call__(self, vae, z, state, first: bool):
        if first or not z.is_cuda:
            return vae(z, state.caches, first=first)
        # The capture's input is a contiguous copy; the plain pass before it must see the same strides, or the
        # compiled pass's stride guards fail inside the capture and Dynamo traces there (a latent frame sliced
        # from a batch > 1 block is not contiguous).
        z = z.contiguous()
        key = (tuple(z.shape), z.dtype)
        entry = state.graphs.get(key)
        if entry is None:
            out = vae(z, state.caches, first=False)
            state.graphs[key] = self._capture(vae, z, state)
            return out
        entry.z.copy_(z)
        entry.graph.replay()
        return entry.out.clone()

    def _capture(self, vae, z, state) -> _PassGraph:
        sz = z.clone()
        graph, out = record(self.pool, vae, sz, state.caches, False)
        return _PassGraph(graph, sz, out)

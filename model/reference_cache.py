"""LongLive 1.0's self-attention cache, followed literally: used only by tests, never for speed.

Token indices are Python ints, the window is rolled by copying, attended keys are sliced and
concatenated (`CausalWanSelfAttention.forward` and `_apply_cache_updates`, SPEC-wan section 4).
The reference updates a clone per layer and writes the real cache after all layers; each layer
reads only its own cache, so rolling and writing in place per layer is the same computation.
The one extension: a per-sample `write_mask`, so that a batch whose samples switch prompts at
different blocks can be compared with the ring cache (the reference switches all samples at once).
"""
from dataclasses import dataclass
from typing import Optional

import torch

from .kv_cache import RecacheCall, sample_mask


@dataclass
class ReferencePlan:
    frame_pos: torch.Tensor
    current_end: int
    local_end: int
    local_start: int
    write_start: int
    num_evicted: int              # > 0: roll the window left by this many tokens first
    num_rolled: int
    is_recompute: bool
    write_mask: Optional[torch.Tensor]
    sink_tokens: int
    size: int                     # kv_cache_size == max_attention_size, tokens

    def write_and_read(self, ck, cv, k, v):
        """Roll, write and slice one layer's cache ck, cv [B, size, H, D] as `CausalWanSelfAttention` does."""
        S = self.sink_tokens
        if self.num_evicted > 0:
            src = slice(S + self.num_evicted, S + self.num_evicted + self.num_rolled)
            ck[:, S:S + self.num_rolled] = ck[:, src].clone()
            cv[:, S:S + self.num_rolled] = cv[:, src].clone()
        ws, le = self.write_start, self.local_end
        if le > ws:
            off = ws - self.local_start
            new_k, new_v = k[:, off:off + le - ws], v[:, off:off + le - ws]
            if self.write_mask is not None:
                keep = ~self.write_mask[:, None, None, None]
                new_k = torch.where(keep, ck[:, ws:le], new_k)
                new_v = torch.where(keep, cv[:, ws:le], new_v)
            ck[:, ws:le] = new_k
            cv[:, ws:le] = new_v
        if S > 0:
            window_start = max(S, le - (self.size - S))
            return (torch.cat([ck[:, :S], ck[:, window_start:le]], dim=1),
                    torch.cat([cv[:, :S], cv[:, window_start:le]], dim=1))
        window_start = max(0, le - self.size)
        return ck[:, window_start:le], cv[:, window_start:le]


class ReferenceKVCache:

    def __init__(self, num_layers: int, batch: int, sink_frames: int, local_frames: int,
                 frame_tokens: int, num_heads: int, head_dim: int, dtype, device):
        self.frame_tokens = frame_tokens
        self.sink_tokens = sink_frames * frame_tokens
        self.size = local_frames * frame_tokens          # kv_cache_size == max_attention_size
        shape = (num_layers, batch, self.size, num_heads, head_dim)
        self.k = torch.zeros(shape, dtype=dtype, device=device)
        self.v = torch.zeros(shape, dtype=dtype, device=device)
        self.batch, self.device = batch, device
        self.reset()

    def reset(self) -> None:
        """A new video: empty cache, indices at 0 (`_initialize_kv_cache`)."""
        self.k.zero_()
        self.v.zero_()
        self.global_end = self.local_end = 0

    def _plan(self, current_start: int, num_tokens: int, sink_recache: bool = False, write_mask=None):
        cs, n, ce = current_start, num_tokens, current_start + num_tokens
        G, Lo, C, S = self.global_end, self.local_end, self.size, self.sink_tokens
        is_recompute = ce <= G and cs > 0
        evicted = rolled = 0
        if ce > G and n + Lo > C:
            evicted = n + Lo - C
            rolled = Lo - evicted - S
            local_end = Lo + ce - G - evicted
        else:
            local_end = Lo + ce - G
        local_start = local_end - n
        write_start = max(local_start, S) if is_recompute else local_start
        if sink_recache:
            write_start = local_start
        t = self.frame_tokens
        frame_pos = torch.arange(cs // t, ce // t, device=self.device)
        return ReferencePlan(frame_pos, ce, local_end, local_start, write_start, evicted, rolled,
                             is_recompute, write_mask, S, C)

    def plan_block(self, first_frame: int, num_frames: int) -> ReferencePlan:
        t = self.frame_tokens
        return self._plan(first_frame * t, num_frames * t)

    def plan_recache(self, current_frame: int, global_sink: bool, samples=None) -> RecacheCall:
        write_mask = sample_mask(samples, self.batch, self.device)
        if not global_sink:
            zero = slice(None) if write_mask is None else write_mask
            self.k[:, zero] = 0
            self.v[:, zero] = 0
        r = min(self.size // self.frame_tokens, current_frame)
        first = current_frame - r
        t = self.frame_tokens
        return RecacheCall(first, r, self._plan(first * t, r * t, not global_sink, write_mask))

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor, plan: ReferencePlan):
        return plan.write_and_read(self.k[layer], self.v[layer], k, v)

    def commit(self, plan: ReferencePlan) -> None:
        if not plan.is_recompute:
            self.global_end, self.local_end = plan.current_end, plan.local_end

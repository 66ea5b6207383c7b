"""Static KV caches: the self-attention ring buffer and the per-prompt cross-attention cache.

Self-attention cache layout, per layer: `sink_size + window_size` frame slots of `frame_tokens`
tokens, tensor [B, slots * frame_tokens, H, D], allocated once. Latent frame f lives in slot
    f                               if f < sink_size
    sink + (f - sink) % window      otherwise
so the sink keeps the first frames forever and the window always holds the newest `window` frames,
the block being generated included: exactly the key set LongLive 1.0 attends to (SPEC-wan section 4),
in another slot order (attention does not depend on key order). Writes go through an index tensor
(`index_copy_`); no call reads a tensor's value on the host.

Fill levels. Until the window is full, the frames written so far occupy a prefix of the slots
(slot f holds frame f), so a call attends to the first `num_keys` tokens: one static shape per fill
level (with 3-frame blocks, local 12, sink 3: 3, 6, 9 and 12 frames; re-cache adds none). That is a
finite set of shapes known before the run, needs no mask, and leaves the attention kernel a dense
problem; the alternative (a validity mask over all slots) is measured against it in the compile issue.

Prompt switch (re-cache, SPEC-wan section 4). At a switch at frame Fc the last r = min(local, Fc)
clean frames are re-run under the new prompt at t = context_noise:
- Fc <= local: frames 0..Fc-1, written to slots 0..Fc-1 (the sink is rewritten too);
- global_sink: the reference runs r = local frames but writes only the last `window` of them, and the
  first `sink` frames of that call change nothing that is kept, so only the last `window` frames run;
- not global_sink: all `local` frames run, the first `sink` of them become the new sink.
The reference zeroes the cache first when the sink is not global; every slot read afterwards is
rewritten first, so that zeroing is unobservable and skipped here.

Streams longer than the RoPE table (1024 frames). LongLive 1.0 indexes its table with the absolute
frame and fails past it. Here the RoPE position of frame f is f - pos_offset, pos_offset 0 until a
block would pass the table's end; then `rebase` moves every position back to a window before the
block, turning the cached keys back by the same number of frames. Attention scores depend only on
position differences, so the video is exactly (to float rounding) the one an unbounded table would
give, and identical to the reference inside the table.
"""
from dataclasses import dataclass
from typing import Optional

import torch

from .rope import apply_rope


@dataclass
class RingPlan:
    """What one model call does to the ring cache: the same for every layer."""
    frame_pos: torch.Tensor               # [F] int64: absolute latent frame of each input frame (RoPE)
    write_idx: torch.Tensor               # [F * frame_tokens] int64: cache token of each input token
    num_keys: int                         # tokens attended: a prefix of the cache
    write_mask: Optional[torch.Tensor]    # [B] bool: samples whose cache is written (None: all)

    def write_and_read(self, ck: torch.Tensor, cv: torch.Tensor, k: torch.Tensor, v: torch.Tensor):
        """Write this call's k, v [B, L, H, D] into one layer's cache ck, cv [B, slots*T, H, D] (in place)
        and return the keys and values to attend to. Tensors in, tensors out: one compiled graph serves
        every layer."""
        if self.write_mask is not None:
            keep = ~self.write_mask[:, None, None, None]
            k = torch.where(keep, ck.index_select(1, self.write_idx), k)
            v = torch.where(keep, cv.index_select(1, self.write_idx), v)
        ck.index_copy_(1, self.write_idx, k)
        cv.index_copy_(1, self.write_idx, v)
        return ck[:, :self.num_keys], cv[:, :self.num_keys]


@dataclass
class RecacheCall:
    """The re-cache model call of a switch: its input frames and its cache plan."""
    first_frame: int
    num_frames: int
    plan: object


class RingKVCache:
    """Self-attention K/V of every layer: sink slots plus a rolling window, static shapes."""

    def __init__(self, num_layers: int, batch: int, sink_frames: int, window_frames: int,
                 frame_tokens: int, num_heads: int, head_dim: int, dtype, device):
        self.sink, self.window, self.frame_tokens = sink_frames, window_frames, frame_tokens
        self.num_slots = sink_frames + window_frames
        shape = (num_layers, batch, self.num_slots * frame_tokens, num_heads, head_dim)
        self.k = torch.zeros(shape, dtype=dtype, device=device)
        self.v = torch.zeros(shape, dtype=dtype, device=device)
        self.batch, self.device = batch, device
        self.token_offsets = torch.arange(frame_tokens, device=device)
        self.reset()

    def reset(self) -> None:
        """Start a new video. Every slot a call reads was written earlier in the same video (the
        valid prefix before the window fills, all slots after), so the data need not be cleared."""
        self.slot_frames = [[None] * self.num_slots for _ in range(self.batch)]   # host only: slot -> frame
        self.pos_offset = 0                      # RoPE position of frame f is f - pos_offset (see rebase)

    def rebase(self, new_offset: int, rope) -> None:
        """Unbounded streams: move every position `new_offset - pos_offset` frames back. Cached keys carry
        RoPE at their old positions, so they are turned back by the same number of frames (one pass over
        the cache); attention depends only on position differences, so every score stays what it was,
        and new frames again index the RoPE table from near 0."""
        delta = new_offset - self.pos_offset
        if delta <= 0:
            return
        cos, sin = rope.frame_shift(delta, self.device)
        for layer in range(self.k.shape[0]):                             # a layer at a time: bounded memory
            self.k[layer].copy_(apply_rope(self.k[layer], cos, sin))
        self.pos_offset = new_offset

    def slot_of(self, frame: int) -> int:
        return frame if frame < self.sink else self.sink + (frame - self.sink) % self.window

    def _plan(self, first_frame: int, num_frames: int, num_keys_frames: int,
              sink_rewrite: bool = False, samples=None) -> RingPlan:
        frames = torch.arange(first_frame, first_frame + num_frames, device=self.device)
        slots = torch.where(frames < self.sink, frames, self.sink + (frames - self.sink) % self.window)
        if sink_rewrite:  # the first `sink` input frames become the sink
            order = torch.arange(num_frames, device=self.device)
            slots = torch.where(order < self.sink, order, slots)
        write_idx = (slots[:, None] * self.frame_tokens + self.token_offsets).flatten()
        frames = frames - self.pos_offset                                # RoPE positions
        for b in range(self.batch) if samples is None else samples:
            for i in range(num_frames):
                f = first_frame + i
                self.slot_frames[b][i if sink_rewrite and i < self.sink else self.slot_of(f)] = f
        return RingPlan(frames, write_idx, num_keys_frames * self.frame_tokens, sample_mask(samples, self.batch, self.device))

    def plan_block(self, first_frame: int, num_frames: int) -> RingPlan:
        """A denoising or clean-context call on frames [first_frame, first_frame + num_frames)."""
        return self._plan(first_frame, num_frames, min(self.num_slots, first_frame + num_frames))

    def plan_recache(self, current_frame: int, global_sink: bool, samples=None) -> RecacheCall:
        """The re-cache call of a switch at `current_frame` for `samples` (host list; None: all)."""
        local = self.num_slots
        if current_frame <= local:
            first, sink_rewrite = 0, False
        elif global_sink:
            first, sink_rewrite = current_frame - self.window, False
        else:
            first, sink_rewrite = current_frame - local, True
        n = current_frame - first
        plan = self._plan(first, n, min(local, current_frame), sink_rewrite, samples)
        return RecacheCall(first, n, plan)

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor, plan: RingPlan):
        """Write k, v [B, L, H, D] into `layer` and return the keys and values to attend to."""
        return plan.write_and_read(self.k[layer], self.v[layer], k, v)

    def commit(self, plan) -> None:
        """Nothing to advance: slots follow from the frame index."""

    def frame_kv(self, layer: int, frame: int):
        """K, V [B, frame_tokens, H, D] stored for a latent frame (for checks and tests)."""
        t = self.frame_tokens
        slots = [sf.index(frame) for sf in self.slot_frames]
        k = torch.stack([self.k[layer, b, s * t:(s + 1) * t] for b, s in enumerate(slots)])
        v = torch.stack([self.v[layer, b, s * t:(s + 1) * t] for b, s in enumerate(slots)])
        return k, v

    def frames(self, sample: int = 0) -> list:
        """The latent frames a sample's cache holds, sorted."""
        return sorted(f for f in self.slot_frames[sample] if f is not None)


def sample_mask(samples, batch: int, device):
    """[B] bool device mask of `samples` (a host list), or None for all samples."""
    if samples is None or len(samples) == batch:
        return None
    mask = torch.zeros(batch, dtype=torch.bool)
    mask[list(samples)] = True
    return mask.to(device)


class CrossAttnCache:
    """Cross-attention K/V of the text rows, per layer and sample: [layers, B, text_len, H, D]."""

    def __init__(self, num_layers: int, batch: int, text_len: int, num_heads: int, head_dim: int, dtype, device):
        shape = (num_layers, batch, text_len, num_heads, head_dim)
        self.k = torch.zeros(shape, dtype=dtype, device=device)
        self.v = torch.zeros(shape, dtype=dtype, device=device)

"""The streaming interactive pipeline: one block of latents at a time, prompt switches with re-cache.

Per block of F latent frames starting at frame s (SPEC-wan section 5):
  1. for samples whose next prompt is due (switch frame <= s): replace their cross-attention K/V and
     re-run their last min(local, s) clean frames at t = context_noise to rebuild the self-attention
     cache (kv_cache.py says which frames run and where they go); other samples' caches stay as they are;
  2. x = starting noise; for each warped timestep: v = model(x, t), x0 = x - sigma v, and unless last,
     x = (1 - sigma_next) x0 + sigma_next eps;
  3. the block's output is the last x0; one more call on x0 at t = context_noise writes its K/V.
Samples advance in lockstep (same frames), each with its own prompt schedule and noise. `stream` takes
the schedules up front; `stream_live` asks for the next prompt at each block start (prompts typed while
the video streams); both run the same block loop, `_stream`.
"""
import logging
from dataclasses import dataclass, field
from typing import Callable, Iterator, List, Optional, Sequence

import torch

from .config import GenerationConfig
from .kv_cache import CrossAttnCache, RingKVCache
from .reference_cache import ReferenceKVCache
from .sampler import FlowMatchSampler
from .wan import CausalWanModel

log = logging.getLogger("longlive_fast")


@dataclass
class PromptSegment:
    """A prompt that takes over at latent frame `start_frame`: its text-encoder rows [text_len, text_dim]."""
    start_frame: int
    embeds: torch.Tensor
    text: str = ""


@dataclass
class Block:
    index: int
    first_frame: int
    latents: torch.Tensor                  # [B, F, C, H, W], the clean x0 of the last step
    switched: tuple = ()                   # samples that switched prompt right before this block


@dataclass
class CallRecord:
    """One model call, as shown to an observer (fidelity checks, tracing)."""
    phase: str                             # "denoise", "context" or "recache"
    block: Optional[int]
    step: Optional[int]
    first_frame: int
    num_frames: int
    x: torch.Tensor
    t: torch.Tensor
    flow: torch.Tensor
    x0: torch.Tensor
    cache: object = field(repr=False)


def switch_block_starts(switch_frames: Sequence[int], num_frames: int, block: int, what: str = "switch_frames"):
    """Check switch frames and return where each takes effect: the first block start at or after it.

    Raises ValueError (one line naming the field and the fix) for unsorted, duplicate, non-positive or
    out-of-range frames, or two switches that would act at the same block."""
    frames = list(switch_frames)
    for f in frames:
        if isinstance(f, bool) or not isinstance(f, int):
            raise ValueError(f"{what}: {f!r} is not an integer latent-frame index")
        if f <= 0:
            raise ValueError(f"{what}: {f} must be > 0 (the first prompt starts at frame 0)")
    if len(set(frames)) != len(frames):
        raise ValueError(f"{what}: {frames} has duplicates; give each switch once")
    if frames != sorted(frames):
        raise ValueError(f"{what}: {frames} is not sorted; list switch frames in increasing order")
    starts = [-(-f // block) * block for f in frames]
    for f, s in zip(frames, starts):
        if s >= num_frames:
            raise ValueError(f"{what}: {f} takes effect at frame {s}, past the end of the "
                             f"{num_frames}-frame video; use a frame below {num_frames - block + 1}")
    for i in range(1, len(starts)):
        if starts[i] == starts[i - 1]:
            raise ValueError(f"{what}: {frames[i - 1]} and {frames[i]} both take effect at block start "
                             f"{starts[i]}; keep switches at least one block ({block} frames) apart")
    return starts


def check_num_frames(num_frames: int, block: int, max_frames: int = None) -> None:
    """A positive multiple of the block; with `max_frames`, within the RoPE table too (the reference cache,
    which, like LongLive 1.0, has no way past it)."""
    if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames <= 0:
        raise ValueError(f"num_frames: {num_frames!r} must be a positive integer number of latent frames")
    if num_frames % block:
        raise ValueError(f"num_frames: {num_frames} is not a multiple of num_frame_per_block={block}; "
                         f"use {num_frames // block * block or block} or {(num_frames // block + 1) * block}")
    if max_frames is not None and num_frames > max_frames:
        raise ValueError(f"num_frames: {num_frames} exceeds the RoPE table of {max_frames} latent frames "
                         "(LongLive's own limit; the ring cache has none)")


class StreamingPipeline:
    """Runs a `CausalWanModel` block by block; `stream` yields each block as soon as it is clean."""

    def __init__(self, model: CausalWanModel, gen: GenerationConfig, batch_size: int,
                 latent_hw: Sequence[int], cache: str = "ring"):
        self.model, self.gen, self.batch = model, gen, batch_size
        self.latent_hw = tuple(latent_hw)
        cfg = model.cfg
        ph, pw = cfg.patch_size[1:]
        h, w = self.latent_hw
        if h % ph or w % pw:
            raise ValueError(f"latent size {h}x{w} is not a multiple of the patch {ph}x{pw}")
        self.frame_tokens = (h // ph) * (w // pw)
        self.device = model.patch_embedding.weight.device
        self.dtype = model.dtype
        self.sampler = FlowMatchSampler(gen, self.device)
        dims = (cfg.num_layers, batch_size)
        heads = (cfg.num_heads, cfg.head_dim)
        if cache == "ring":
            self.cache = RingKVCache(*dims, gen.sink_size, gen.window_size, self.frame_tokens, *heads,
                                     self.dtype, self.device)
        elif cache == "reference":
            self.cache = ReferenceKVCache(*dims, gen.sink_size, gen.local_attn_size, self.frame_tokens, *heads,
                                          self.dtype, self.device)
        else:
            raise ValueError(f"unknown cache {cache!r}; choose 'ring' or 'reference'")
        if cfg.rope_max_frames < gen.local_attn_size + gen.num_frame_per_block:
            raise ValueError(f"model.rope_max_frames={cfg.rope_max_frames} must hold a window plus a block "
                             f"({gen.local_attn_size + gen.num_frame_per_block} frames)")
        self.cross = CrossAttnCache(*dims, cfg.text_len, *heads, self.dtype, self.device)
        # the model call of every forward; compile/cudagraph.py may replace it by CUDA-graph replays
        self.call = self._call
        # clean latents of the last `local_attn_size` frames: the re-cache input (frame f at f % local)
        self.history = torch.zeros((batch_size, gen.local_attn_size, cfg.in_dim, h, w),
                                   dtype=self.dtype, device=self.device)

    def _check_schedules(self, schedules, num_frames):
        block = self.gen.num_frame_per_block
        if len(schedules) != self.batch:
            raise ValueError(f"prompts: {len(schedules)} prompt schedules for batch_size={self.batch}; "
                             "give one schedule per sample")
        starts = []
        for i, sched in enumerate(schedules):
            if not sched or sched[0].start_frame != 0:
                raise ValueError(f"prompts: sample {i}'s schedule must start with a prompt at frame 0")
            switch = [seg.start_frame for seg in sched[1:]]
            eff = switch_block_starts(switch, num_frames, block, f"prompts (sample {i}) switch frames")
            for f, s in zip(switch, eff):
                if f != s:
                    log.info("sample %d: switch at frame %d takes effect at the next block start, frame %d", i, f, s)
            starts.append([0] + eff)
        return starts

    def _call(self, x, t, plan, kv_only: bool = False):
        return self.model(x, t, self.cross, self.cache, plan, kv_only=kv_only)

    def _set_prompts(self, embeds: List[torch.Tensor], mask=None):
        ctx = torch.stack([e.to(self.device) for e in embeds])
        self.model.encode_prompt(ctx, self.cross, mask)

    @torch.no_grad()
    def stream(self, schedules: Sequence[Sequence[PromptSegment]], num_frames: int, noise,
               observer: Optional[Callable[[CallRecord], None]] = None) -> Iterator[Block]:
        """Yield the video's blocks in order. `schedules[i]` is sample i's prompts, the first at frame 0;
        `noise` is a noise source (noise.py)."""
        check_num_frames(num_frames, self.gen.num_frame_per_block, self._frame_limit())
        starts = self._check_schedules(schedules, num_frames)
        seg = [0] * self.batch

        def due(s):
            switch = {}
            for i, sched in enumerate(schedules):
                if seg[i] + 1 < len(starts[i]) and starts[i][seg[i] + 1] <= s:
                    seg[i] += 1
                    switch[i] = sched[seg[i]].embeds
            return switch

        yield from self._stream([s[0].embeds for s in schedules], due, num_frames, noise, observer)

    @torch.no_grad()
    def stream_live(self, first_embeds: torch.Tensor, next_prompt: Callable[[int], Optional[torch.Tensor]],
                    max_frames: int, noise, observer: Optional[Callable[[CallRecord], None]] = None
                    ) -> Iterator[Block]:
        """`stream` for one sample whose prompts arrive while it runs. Before every block but the first,
        `next_prompt(first_frame)` returns the embeds [text_len, text_dim] to switch to there (with the
        re-cache, as a scheduled switch) or None to keep the prompt. Ends after `max_frames` latent frames
        or when the caller stops iterating; the same prompts at the same block starts give `stream`'s blocks."""
        if self.batch != 1:
            raise ValueError(f"batch_size: live prompts drive one sample; got batch_size={self.batch}")
        check_num_frames(max_frames, self.gen.num_frame_per_block, self._frame_limit())

        def due(s):
            embeds = next_prompt(s) if s else None
            return {} if embeds is None else {0: embeds}

        yield from self._stream([first_embeds], due, max_frames, noise, observer)

    def _frame_limit(self):
        """The reference cache keeps absolute RoPE positions (LongLive's limit); the ring re-bases them."""
        return self.model.cfg.rope_max_frames if isinstance(self.cache, ReferenceKVCache) else None

    def _rebase_if_needed(self, s: int) -> None:
        """Before the block at frame s: keep every position this block and its re-cache use in the RoPE
        table by moving all positions back (kv_cache.RingKVCache.rebase), a window before s."""
        table = self.model.cfg.rope_max_frames
        if isinstance(self.cache, RingKVCache) and s + self.gen.num_frame_per_block - self.cache.pos_offset > table:
            self.cache.rebase(s - self.gen.local_attn_size, self.model.rope)

    def _stream(self, first_embeds: List[torch.Tensor], due: Callable[[int], dict], num_frames: int, noise,
                observer) -> Iterator[Block]:
        """The block loop of both entry points; `due(s)` -> {sample: embeds} switching at block start s."""
        gen, B = self.gen, self.batch
        F = gen.num_frame_per_block
        sampler, local = self.sampler, gen.local_attn_size
        prompts = list(first_embeds)
        # the clean-context and re-cache passes are run for their cache writes; unless an observer wants
        # their flow, the model stops after the last layer's K/V (compile recipe lever `kv_only`)
        kv_only = getattr(self.model, "kv_only_context", False) and observer is None
        self.cache.reset()
        self._set_prompts(prompts)

        def record(phase, blk, step, first, x, t, flow, sigma):
            if observer is not None:
                x0 = sampler.x0_from_flow(x, flow, sigma)
                observer(CallRecord(phase, blk, step, first, x.shape[1], x, t, flow, x0, self.cache))

        for blk in range(num_frames // F):
            s = blk * F
            self._rebase_if_needed(s)
            switch = due(s)
            if switch:
                prompts = [switch.get(i, prompts[i]) for i in range(B)]
                rc = self.cache.plan_recache(s, gen.global_sink, sorted(switch))
                self._set_prompts(prompts, rc.plan.write_mask)
                idx = torch.arange(rc.first_frame, rc.first_frame + rc.num_frames, device=self.device) % local
                x = self.history.index_select(1, idx)
                t = sampler.context_timestep.expand(B, rc.num_frames)
                flow = self.call(x, t, rc.plan, kv_only=kv_only)
                record("recache", None, None, rc.first_frame, x, t, flow, sampler.context_sigma)

            x = noise.initial(s, F).to(device=self.device, dtype=self.dtype)
            for k in range(sampler.num_steps):
                t = sampler.timesteps[k].expand(B, F)
                flow = self.call(x, t, self.cache.plan_block(s, F))
                x0 = sampler.x0_from_flow(x, flow, sampler.sigmas[k])
                record("denoise", blk, k, s, x, t, flow, sampler.sigmas[k])
                if k + 1 < sampler.num_steps:
                    eps = noise.renoise(s, F).to(device=self.device, dtype=self.dtype)
                    x = sampler.add_noise(x0, eps, sampler.sigmas[k + 1])
            t = sampler.context_timestep.expand(B, F)
            flow = self.call(x0, t, self.cache.plan_block(s, F), kv_only=kv_only)
            record("context", blk, None, s, x0, t, flow, sampler.context_sigma)
            self.history.index_copy_(1, torch.arange(s, s + F, device=self.device) % local, x0)
            yield Block(blk, s, x0, tuple(sorted(switch)))

    def generate(self, schedules, num_frames: int, noise, observer=None) -> torch.Tensor:
        """The whole video's latents [B, T, C, H, W] (collects `stream`)."""
        return torch.cat([b.latents for b in self.stream(schedules, num_frames, noise, observer)], dim=1)

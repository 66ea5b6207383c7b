"""Streams longer than the RoPE table: positions are re-based (kv_cache.RingKVCache.rebase), and since
attention depends only on position differences the video is the one an unbounded table would give."""
import dataclasses

import pytest
import torch
from torch.testing import assert_close

from model.config import GenerationConfig
from model.noise import SeededNoise
from model.pipeline import StreamingPipeline
from model.wan import CausalWanModel

from helpers import FRAME_SHAPE, LATENT_HW, SMALL, schedule, small_model


def model_with_table(frames: int) -> CausalWanModel:
    m = CausalWanModel(dataclasses.replace(SMALL, rope_max_frames=frames)).float().eval()
    m.load_state_dict(small_model().state_dict())
    return m


def generate(model, sched, frames, gen=GenerationConfig(), record=None):
    pipe = StreamingPipeline(model, gen, len(sched), LATENT_HW)
    out = []
    for block in pipe.stream(sched, frames, SeededNoise(list(range(len(sched))), FRAME_SHAPE, torch.float32, "cpu")):
        out.append(block.latents)
        if record is not None:
            record.append(pipe.cache.pos_offset)
    return torch.cat(out, dim=1)


@pytest.mark.parametrize("gen", [GenerationConfig(), GenerationConfig(global_sink=False),
                                 GenerationConfig(local_attn_size=9, sink_size=0)], ids=["global", "no_global", "sink0"])
def test_short_table_gives_the_long_table_video(gen):
    """A 24-frame table re-based several times over 72 frames (with switches across re-bases) equals
    the same run on a 1024-frame table, where no re-base happens."""
    sched = [schedule([21, 45], [1, 2, 3]), schedule([30], [4, 5])]
    offsets = []
    short = generate(model_with_table(24), sched, 72, gen, offsets)
    long = generate(model_with_table(1024), sched, 72, gen)
    assert len(set(offsets)) >= 4                                   # it really re-based, more than once
    assert_close(short, long, atol=2e-5, rtol=2e-5)


def test_positions_stay_in_the_table():
    model = model_with_table(24)
    pipe = StreamingPipeline(model, GenerationConfig(), 1, LATENT_HW)
    seen = []
    forward = model.forward

    def spy(x, t, cross, cache, plan, **kwargs):
        seen.append((int(plan.frame_pos.min()), int(plan.frame_pos.max())))
        return forward(x, t, cross, cache, plan, **kwargs)

    model.forward = spy
    for _ in pipe.stream([schedule([30], [1, 2])], 90, SeededNoise([0], FRAME_SHAPE, torch.float32, "cpu")):
        pass
    assert min(lo for lo, _ in seen) >= 0 and max(hi for _, hi in seen) < 24


def test_reference_cache_keeps_the_reference_limit():
    pipe = StreamingPipeline(model_with_table(24), GenerationConfig(), 1, LATENT_HW, cache="reference")
    with pytest.raises(ValueError, match="exceeds the RoPE table of 24"):
        next(pipe.stream([schedule([], [1])], 27, SeededNoise([0], FRAME_SHAPE, torch.float32, "cpu")))


def test_table_must_hold_a_window_and_a_block():
    with pytest.raises(ValueError, match="must hold a window plus a block"):
        StreamingPipeline(model_with_table(12), GenerationConfig(), 1, LATENT_HW)

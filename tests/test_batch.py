"""Sample i of a batch equals the same sample run alone with the same noise seed and prompt schedule.

SeededNoise draws per sample, so a batch-1 run seeded with seeds[i] sees sample i's noise. Samples may
switch prompts at different blocks; a sample that does not switch must keep its caches untouched.
"""
import pytest
import torch
from torch.testing import assert_close

from model.config import GenerationConfig
from model.noise import SeededNoise

from helpers import FRAME_SHAPE, run, schedule

TOL = dict(atol=1e-5, rtol=1e-5)
GENS = {"global_sink": GenerationConfig(), "no_global_sink": GenerationConfig(global_sink=False)}


def check_batch_equals_solo(switches, prompt_seeds, seeds, T, gen, cache):
    schedules = [schedule(sw, ps) for sw, ps in zip(switches, prompt_seeds)]
    batch = run(schedules, seeds, T, gen, cache)
    solos = [run([sch], [s], T, gen, cache) for sch, s in zip(schedules, seeds)]
    assert batch.latents.shape[0] == len(schedules)
    for i, solo in enumerate(solos):
        assert_close(batch.latents[i:i + 1], solo.latents, **TOL)
        # every denoising and context call of the batch agrees with the solo run, sample by sample
        b_calls = [c for c in batch.calls if c.phase != "recache"]
        s_calls = [c for c in solo.calls if c.phase != "recache"]
        assert len(b_calls) == len(s_calls)
        for b, s in zip(b_calls, s_calls):
            assert (b.phase, b.block, b.step) == (s.phase, s.block, s.step)
            assert_close(b.flow[i:i + 1], s.flow, **TOL)
        # re-cache calls: where sample i switched, its rows of the batch call equal the solo call
        switched_at = {blk.first_frame for blk in batch.blocks if i in blk.switched}
        b_rc = [c for c in batch.calls if c.phase == "recache" and c.first_frame + c.num_frames in switched_at]
        s_rc = [c for c in solo.calls if c.phase == "recache"]
        assert len(b_rc) == len(s_rc) == len(switches[i])
        for b, s in zip(b_rc, s_rc):
            assert (b.first_frame, b.num_frames) == (s.first_frame, s.num_frames)
            assert_close(b.flow[i:i + 1], s.flow, **TOL)
    return batch, solos


@pytest.mark.parametrize("cache", ["ring", "reference"])
@pytest.mark.parametrize("gen_name", GENS, ids=list(GENS))
def test_batch_with_different_schedules_and_seeds(gen_name, cache):
    batch, solos = check_batch_equals_solo([[9, 15], [12, 21]], [[1, 2, 3], [4, 5, 6]], [11, 22], 27,
                                           GENS[gen_name], cache)
    # the samples really differ (different seeds and prompts)
    assert (batch.latents[0] - batch.latents[1]).abs().max() > 0.1
    assert [b.switched for b in batch.blocks] == [(), (), (), (0,), (1,), (0,), (), (1,), ()]


@pytest.mark.parametrize("cache", ["ring", "reference"])
@pytest.mark.parametrize("gen_name", GENS, ids=list(GENS))
def test_only_one_sample_switches(gen_name, cache):
    """Sample 0 switches at frames 6 and 15 (one re-cache with Fc <= local, one past it); sample 1 never
    switches: its output and every call's flow equal a solo run that has no re-cache call at all."""
    batch, solos = check_batch_equals_solo([[6, 15], []], [[1, 2, 3], [1]], [11, 22], 21, GENS[gen_name], cache)
    assert [c.phase for c in solos[1].calls].count("recache") == 0
    assert [c.phase for c in batch.calls].count("recache") == 2
    assert [b.switched for b in batch.blocks] == [(), (), (0,), (), (), (0,), ()]


def test_same_prompt_and_seed_in_both_slots():
    """Two identical samples give identical outputs (no cross-talk through the batch dimension)."""
    sch = schedule([9, 15], [1, 2, 3])
    r = run([sch, sch], [5, 5], 18)
    assert_close(r.latents[0], r.latents[1], **TOL)


def test_seeded_noise_is_per_sample():
    batch = SeededNoise([3, 4], FRAME_SHAPE, torch.float32, "cpu")
    solo = [SeededNoise([3], FRAME_SHAPE, torch.float32, "cpu"), SeededNoise([4], FRAME_SHAPE, torch.float32, "cpu")]
    for _ in range(3):
        a = batch.initial(0, 3), batch.renoise(0, 3)
        for i, s in enumerate(solo):
            b = s.initial(0, 3), s.renoise(0, 3)
            assert torch.equal(a[0][i:i + 1], b[0]) and torch.equal(a[1][i:i + 1], b[1])
        assert a[0].shape == (2, 3, *FRAME_SHAPE)

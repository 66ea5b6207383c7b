"""The static ring KV cache equals LongLive 1.0's cache followed literally (model/reference_cache.py).

End to end: whole streaming runs with prompt switches through StreamingPipeline(cache="ring") and
(cache="reference"), in FP32, compared on final latents and on every model call's flow prediction.
Unit level: RingKVCache slot mapping and re-cache plans (the rules of kv_cache.py's docstring), and the
set of keys every call attends to, ring vs reference, with K tagged by (frame, prompt, step).
"""
import pytest
import torch
from torch.testing import assert_close

from model.config import GenerationConfig
from model.kv_cache import RingKVCache
from model.pipeline import switch_block_starts
from model.reference_cache import ReferenceKVCache

from helpers import run, schedule

TOL = dict(atol=1e-5, rtol=1e-5)

GENS = {
    "default": GenerationConfig(),
    "no_global_sink": GenerationConfig(global_sink=False),
    "sink0": GenerationConfig(sink_size=0),
    "sink0_no_global_sink": GenerationConfig(sink_size=0, global_sink=False),
    "local9": GenerationConfig(local_attn_size=9),
    "local10": GenerationConfig(local_attn_size=10),                       # window 7: not a multiple of the block
    "local10_no_global_sink": GenerationConfig(local_attn_size=10, global_sink=False),
    "block2_local7_sink2": GenerationConfig(num_frame_per_block=2, local_attn_size=7, sink_size=2),
    "block2_local7_sink2_no_global_sink": GenerationConfig(num_frame_per_block=2, local_attn_size=7, sink_size=2,
                                                           global_sink=False),
}

# switch frames per sample (prompt seeds follow from them); each run is 24-27 frames: 8+ blocks
SCHEDULES = {
    "b1": [[9, 15]],
    "b2_different_switches": [[9, 15], [12, 21]],
    "b2_one_never_switches": [[9, 15], []],
    "b1_early_unaligned": [[2, 13]],          # first switch right after block 0, frames not block-aligned
}


def make_schedules(switches):
    return [schedule(sw, [100 * i + k for k in range(len(sw) + 1)]) for i, sw in enumerate(switches)]


def num_frames_for(gen):
    return 27 if gen.num_frame_per_block == 3 else 24


@pytest.mark.parametrize("sched", SCHEDULES, ids=list(SCHEDULES))
@pytest.mark.parametrize("gen_name", GENS, ids=list(GENS))
def test_ring_equals_reference(gen_name, sched):
    gen, switches = GENS[gen_name], SCHEDULES[sched]
    T, F = num_frames_for(gen), gen.num_frame_per_block
    assert T // F >= 8
    schedules = make_schedules(switches)
    seeds = [7 + i for i in range(len(switches))]
    ring = run(schedules, seeds, T, gen, cache="ring")
    ref = run(schedules, seeds, T, gen, cache="reference")

    # (a) final latents
    assert ring.latents.shape == (len(switches), T, 16, 4, 6)
    assert_close(ring.latents, ref.latents, **TOL)

    # the switches acted where expected, per sample
    eff = [switch_block_starts(sw, T, F) for sw in switches]
    for blk in ring.blocks:
        assert blk.switched == tuple(i for i, e in enumerate(eff) if blk.first_frame in e)
    switch_frames = sorted(set(f for e in eff for f in e))
    assert len(switch_frames) >= 2

    # (b) every call's flow prediction
    assert [(c.phase, c.block, c.step) for c in ring.calls] == [(c.phase, c.block, c.step) for c in ref.calls]
    recaches = [(r, f) for r, f in zip(ring.calls, ref.calls) if r.phase == "recache"]
    assert len(recaches) == len(switch_frames)
    assert len(ring.calls) == (T // F) * (len(gen.denoising_steps) + 1) + len(switch_frames)
    local, window = gen.local_attn_size, gen.window_size
    for r, f in zip(ring.calls, ref.calls):
        if r.phase == "recache":
            fc = r.first_frame + r.num_frames
            assert fc == f.first_frame + f.num_frames and fc in switch_frames
            assert f.num_frames == min(local, fc)
            expected = fc if fc <= local else (window if gen.global_sink else local)
            assert r.num_frames == expected
            skip = r.first_frame - f.first_frame
            assert_close(r.flow, f.flow[:, skip:], **TOL)
        else:
            assert (r.first_frame, r.num_frames) == (f.first_frame, f.num_frames)
            assert_close(r.flow, f.flow, **TOL)


def test_cache_contents_change_the_output():
    """The comparison above is not vacuous: a different attended key set moves the latents far past TOL."""
    schedules = make_schedules([[9, 15]])
    a = run(schedules, [7], 27, GenerationConfig())
    b = run(schedules, [7], 27, GenerationConfig(local_attn_size=15))
    c = run(schedules, [7], 27, GenerationConfig(global_sink=False))
    assert_close(a.latents[:, :12], b.latents[:, :12], **TOL)      # windows agree until frame 12
    assert (a.latents - b.latents).abs().max() > 1e-2
    assert_close(a.latents[:, :9], c.latents[:, :9], **TOL)        # identical before the first switch
    assert (a.latents - c.latents).abs().max() > 1e-2


# ---------------------------------------------------------------- unit level: RingKVCache


def ring(sink, window, batch=1, ft=2, dtype=torch.float64):
    return RingKVCache(1, batch, sink, window, ft, 1, 1, dtype, "cpu")


def expected_frames(sink, window, end):
    """Sink plus the newest `window` frames of [0, end)."""
    return list(range(min(sink, end))) + list(range(max(sink, end - window), end))


@pytest.mark.parametrize("sink,window,block", [(3, 9, 3), (3, 7, 3), (0, 12, 3), (2, 5, 2), (1, 3, 3)])
def test_ring_plan_block_slots(sink, window, block):
    c, ft = ring(sink, window), 2
    for s in range(0, 30, block):
        plan = c.plan_block(s, block)
        assert plan.frame_pos.tolist() == list(range(s, s + block))
        slots = [f if f < sink else sink + (f - sink) % window for f in range(s, s + block)]
        assert plan.write_idx.tolist() == [sl * ft + t for sl in slots for t in range(ft)]
        assert plan.num_keys == min(sink + window, s + block) * ft
        assert plan.write_mask is None
        assert c.frames() == expected_frames(sink, window, s + block)


@pytest.mark.parametrize("sink,window,block", [(3, 9, 3), (3, 7, 3), (0, 12, 3), (2, 5, 2)])
def test_ring_update_stores_frames_and_returns_window(sink, window, block):
    """K/V tagged with their frame index: the attended prefix holds exactly sink + newest window frames."""
    c, ft = ring(sink, window), 2
    for s in range(0, 30, block):
        plan = c.plan_block(s, block)
        tag = plan.frame_pos.double().repeat_interleave(ft)[None, :, None, None]
        keys, values = c.update(0, tag, -tag, plan)
        frames = expected_frames(sink, window, s + block)
        assert keys.shape == (1, len(frames) * ft, 1, 1)
        assert sorted(keys.flatten().tolist()) == sorted(f for f in frames for _ in range(ft))
        assert_close(values, -keys)
        for f in frames:
            k, v = c.frame_kv(0, f)
            assert k.flatten().tolist() == [f] * ft and v.flatten().tolist() == [-f] * ft


RECACHE_CASES = [
    # sink, window, Fc, global_sink -> first_frame, num_frames
    (3, 9, 9, True, 0, 9),        # Fc <= local: from frame 0, sink rewritten
    (3, 9, 9, False, 0, 9),
    (3, 9, 12, True, 0, 12),      # Fc == local
    (3, 9, 12, False, 0, 12),
    (3, 9, 15, True, 6, 9),       # global sink: the last `window` frames only
    (3, 9, 15, False, 3, 12),     # not global: the last `local` frames, the first `sink` become the sink
    (3, 9, 30, True, 21, 9),
    (3, 9, 30, False, 18, 12),
    (3, 7, 12, True, 5, 7),       # local 10
    (3, 7, 12, False, 2, 10),
    (0, 12, 15, True, 3, 12),     # no sink: both modes run the last `local` frames
    (0, 12, 15, False, 3, 12),
]


@pytest.mark.parametrize("sink,window,fc,global_sink,first,num", RECACHE_CASES)
def test_ring_plan_recache(sink, window, fc, global_sink, first, num):
    c, ft, local = ring(sink, window), 2, sink + window
    for s in range(0, fc, 3):
        plan = c.plan_block(s, 3)
        c.update(0, plan.frame_pos.double().repeat_interleave(ft)[None, :, None, None].clone(),
                 torch.zeros(1, 3 * ft, 1, 1, dtype=torch.float64), plan)
    before = c.frames()
    rc = c.plan_recache(fc, global_sink)
    assert (rc.first_frame, rc.num_frames) == (first, num)
    assert rc.plan.frame_pos.tolist() == list(range(first, fc))      # absolute RoPE positions
    assert rc.plan.num_keys == min(local, fc) * ft
    slots = rc.plan.write_idx.view(-1, ft)[:, 0] // ft
    assert len(set(slots.tolist())) == num                            # no two frames share a slot
    tag = (1000.0 + rc.plan.frame_pos.double()).repeat_interleave(ft)[None, :, None, None]
    keys, _ = c.update(0, tag, tag, rc.plan)

    if fc <= local:
        kept = list(range(fc))
        assert before == kept and c.frames() == kept
        want = {f: 1000.0 + f for f in kept}
    elif global_sink:
        assert c.frames() == before == list(range(sink)) + list(range(fc - window, fc))
        want = {f: (float(f) if f < sink else 1000.0 + f) for f in c.frames()}   # old-prompt sink kept
    else:
        assert c.frames() == list(range(fc - local, fc))
        assert c.slot_frames[0][:sink] == list(range(fc - local, fc - local + sink))   # sink rewritten
        want = {f: 1000.0 + f for f in c.frames()}
    for f, w in want.items():
        assert c.frame_kv(0, f)[0].flatten().tolist() == [w] * ft
    assert sorted(keys.flatten().tolist()) == sorted(w for w in want.values() for _ in range(ft))


def test_ring_write_mask_leaves_other_samples_untouched():
    c, ft = ring(3, 9, batch=2), 2
    for s in range(0, 15, 3):
        plan = c.plan_block(s, 3)
        c.update(0, torch.randn(2, 3 * ft, 1, 1, dtype=torch.float64),
                 torch.randn(2, 3 * ft, 1, 1, dtype=torch.float64), plan)
    k0, v0 = c.k.clone(), c.v.clone()
    rc = c.plan_recache(15, global_sink=False, samples=[1])
    new = torch.full((2, rc.num_frames * ft, 1, 1), 5.0, dtype=torch.float64)
    c.update(0, new, new, rc.plan)
    assert torch.equal(c.k[:, 0], k0[:, 0]) and torch.equal(c.v[:, 0], v0[:, 0])
    assert (c.k[0, 1] == 5.0).all() and (c.v[0, 1] == 5.0).all()       # all 12 slots rewritten for sample 1
    assert c.frames(0) == [0, 1, 2] + list(range(6, 15))                # sample 0 keeps its sink frames
    assert c.frames(1) == list(range(3, 15))                            # sample 1's sink is now frames 3-5


# ------------------------------------------- unit level: attended key sets, ring vs reference


def simulate_keys(cache, gen, switches, num_frames, ft=2, steps=4):
    """Drive a cache through the pipeline's call sequence with K tagged by (sample, prompt, step, frame);
    return, per call, per sample, the sorted tags of the attended keys (queries all see the same keys)."""
    F, B = gen.num_frame_per_block, len(switches)
    eff = [switch_block_starts(sw, num_frames, F) for sw in switches]
    version = [0] * B
    out = []

    def call(plan, step):
        tag = torch.stack([plan.frame_pos.double() + 1000.0 * version[b] + 100000.0 * step + 1e7 * b
                           for b in range(B)]).repeat_interleave(ft, dim=1)[:, :, None, None]
        keys, values = cache.update(0, tag, tag, plan)
        assert torch.equal(keys, values)
        cache.commit(plan)
        out.append([sorted(keys[b].flatten().tolist()) for b in range(B)])

    for s in range(0, num_frames, F):
        due = [b for b in range(B) if s in eff[b]]
        if due:
            for b in due:
                version[b] += 1
            call(cache.plan_recache(s, gen.global_sink, due).plan, 9)
        for step in range(steps):
            call(cache.plan_block(s, F), step)
        call(cache.plan_block(s, F), 8)                                 # clean-context pass
    return out


@pytest.mark.parametrize("gen_name", GENS, ids=list(GENS))
def test_attended_keys_ring_equals_reference(gen_name):
    gen, ft, T = GENS[gen_name], 2, 36
    switches = [[9, 15, 27], [12, 21], []]
    r = RingKVCache(1, 3, gen.sink_size, gen.window_size, ft, 1, 1, torch.float64, "cpu")
    f = ReferenceKVCache(1, 3, gen.sink_size, gen.local_attn_size, ft, 1, 1, torch.float64, "cpu")
    kr = simulate_keys(r, gen, switches, T, ft)
    kf = simulate_keys(f, gen, switches, T, ft)
    assert len(kr) == len(kf)
    for i, (a, b) in enumerate(zip(kr, kf)):
        assert a == b, f"call {i}: ring keys {a} != reference keys {b}"
    # steady state: every call attends local_attn_size frames
    assert all(len(k) == gen.local_attn_size * ft for k in kr[-1])

"""The memory plan (model/memory.py): its components, its behaviour in the settings, the refusal when a run
cannot fit, and its activation terms held to a trace of the real code (FakeTensorMode: full-size shapes,
nothing computed) and, on a GPU, to the measured peak."""
import dataclasses
import types

import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensorMode

from model import memory
from model.config import PRESETS, GenerationConfig
from model.kv_cache import CrossAttnCache, RingKVCache
from model.memory import GiB, check_fits, estimate, peak_live_bytes
from model.vae import VAE_PRESETS, VAEConfig, WanVAEDecoder
from model.wan import CausalWanModel

from helpers import SMALL, small_model

WAN = PRESETS["wan_1_3b"]
HW_480 = (60, 104)                      # 480 x 832 video


def wan_plan(**kw):
    args = dict(model_cfg=WAN, gen=GenerationConfig(), batch=1, latent_hw=HW_480, dtype=torch.bfloat16)
    return estimate(**{**args, **kw})


def test_wan_1_3b_at_480x832_components():
    plans = {per: wan_plan(vae_per_frame=per) for per in (False, True)}
    for per, plan in plans.items():
        print(f"\nwan_1_3b 480x832 batch 1 bf16, vae_per_frame={per}:\n{plan.describe()}")
    plan = plans[False]
    assert plan.kv_cache == 30 * 2 * 12 * 1560 * 1536 * 2                 # 3.45 GB (SPEC-wan section 10)
    assert plan.cross_cache == 30 * 2 * 512 * 1536 * 2
    params = 1_418_996_800                                                # SPEC-wan section 2: ~1.419 B
    assert params * 2 < plan.dit_weights < params * 2 + 2**20            # + the float32 RoPE tables
    assert 1.7 * GiB < plan.vae_cache < 1.8 * GiB                         # SPEC-wan section 7: ~1.9 GB
    assert plan.total == plan.persistent + max(plan.dit_activations, plan.vae_activations)
    assert plans[True].vae_activations < 0.5 * plan.vae_activations
    assert plans[True].total < plan.total
    assert {k: v for k, v in plans[True].components().items() if k != "vae_activations"} == \
        {k: v for k, v in plan.components().items() if k != "vae_activations"}


def test_monotone_in_batch_and_window():
    totals = [wan_plan(batch=b).total for b in (1, 2, 4)]
    assert totals == sorted(totals) and len(set(totals)) == 3
    kv = [wan_plan(gen=GenerationConfig(local_attn_size=n)) for n in (9, 12, 15, 21)]
    assert [p.kv_cache for p in kv] == sorted(p.kv_cache for p in kv)
    assert [p.total for p in kv] == sorted(p.total for p in kv) and len({p.total for p in kv}) == 4
    assert wan_plan(vae=False).total < wan_plan().total
    # the largest model call: a block, a late re-cache (window), an early one (up to local), or anywhere
    gen = GenerationConfig()
    assert [memory.max_call_frames(gen, s) for s in ([], [42], [6, 42], [12], None)] == [3, 9, 9, 12, 12]
    assert memory.max_call_frames(GenerationConfig(global_sink=False), [42]) == 12


def test_quantized_weights_and_text_encoder():
    from model.umt5 import UMT5_XXL
    from quant.schemes import selected
    with torch.device("meta"):
        linears = dict(CausalWanModel(WAN).named_modules())
    names = selected(linears[""], ("patch_embedding", "text_embedding", "time_embedding", "time_projection", "head"))
    saved = sum(linears[n].weight.numel() for n in names)                 # 1 byte instead of 2
    scales = sum(linears[n].weight.shape[0] * 4 for n in names)
    assert wan_plan(quant="fp8dq_row").dit_weights == wan_plan().dit_weights - saved + scales
    with_t5 = wan_plan(text_encoder=UMT5_XXL, prompts_per_encode=6)
    assert with_t5.text_encoder == 5_680_910_336 * 2                      # UMT5-XXL, the tied table once
    assert with_t5.total == max(wan_plan().total, with_t5.text_encoder + with_t5.text_encoder_activations)
    live = wan_plan(text_encoder=UMT5_XXL, text_encoder_resident=True)
    assert live.total == wan_plan().total + live.text_encoder


def test_compiled_vae_factors():
    """The compiled VAE's transient is the eager model times COMPILED_VAE_FACTOR, or times the (smaller)
    COMPILED_FUSED_VAE_FACTOR with the fused norm kernel; nothing else in the plan moves."""
    args = (WAN, GenerationConfig(), 1, (60, 104), torch.bfloat16)
    eager, compiled, fused = (estimate(*args, vae_per_frame=True, compiled_vae=c, fused_vae_norm=f)
                              for c, f in ((False, False), (True, False), (True, True)))
    assert compiled.vae_activations == int(eager.vae_activations * memory.COMPILED_VAE_FACTOR)
    assert fused.vae_activations == int(eager.vae_activations * memory.COMPILED_FUSED_VAE_FACTOR)
    assert fused.vae_activations < eager.vae_activations < compiled.vae_activations
    assert fused.vae_cache == compiled.vae_cache == eager.vae_cache


def test_refusal_names_the_estimate_the_gpu_and_the_fix():
    plan = wan_plan()
    check_fits(plan, 80 * GiB, "NVIDIA H100 80GB HBM3")                 # fits: no error
    with pytest.raises(ValueError) as err:
        check_fits(plan, 8 * GiB, "Fake GPU 8GB", ["batch_size=1", "output.vae_per_frame=true"])
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"memory: this configuration needs about {plan.total_gib:.1f} GiB")
    assert "Fake GPU 8GB has 8.0 GiB" in msg and "0.5 are kept for the CUDA context" in msg
    assert "output.vae_per_frame=true" in msg and "memory_check=false" in msg
    # just over the usable memory refuses, just under runs
    check_fits(plan, plan.total + memory.CUDA_CONTEXT_RESERVE, "exact")
    with pytest.raises(ValueError):
        check_fits(plan, plan.total + memory.CUDA_CONTEXT_RESERVE - 1, "one byte short")


def test_generate_refuses_before_building_on_a_small_gpu(monkeypatch):
    """The wiring: validate, then the plan against the device's memory (a fake 8 GiB CUDA device)."""
    from test_generate import cfg as generate_cfg
    from scripts import generate
    cfg = generate_cfg("model=wan_1_3b", "device=cpu", "dtype=bfloat16", "output.vae_per_frame=false")
    spec = dataclasses.replace(generate.validate(cfg), device=torch.device("cuda"))
    fake = types.SimpleNamespace(total_memory=8 * GiB, name="Fake GPU 8GB")
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device: fake)
    with pytest.raises(ValueError, match=r"^memory: .* Fake GPU 8GB has 8.0 GiB.* output.vae_per_frame=true"):
        generate.plan_memory(spec, cfg)
    assert generate.plan_memory(dataclasses.replace(spec, memory_check=False), cfg).total_gib > 8
    assert not generate.validate(generate_cfg("device=cpu", "memory_check=false")).memory_check


# ---- calibration: the analytic activation terms against a trace of the real code ------------------------

def fake_build(dtype, build):
    """Build under FakeTensorMode with `dtype` as the default (parameters made in it, not cast)."""
    mode = FakeTensorMode()
    old = torch.get_default_dtype()
    with mode:
        torch.set_default_dtype(dtype)
        try:
            return mode, build()
        finally:
            torch.set_default_dtype(old)


def traced_dit_peak(model, cfg, batch, frames, hw, dtype):
    ph, pw = cfg.patch_size[1:]
    tokens = (hw[0] // ph) * (hw[1] // pw)
    cache = RingKVCache(cfg.num_layers, batch, 3, 9, tokens, cfg.num_heads, cfg.head_dim, dtype, "cpu")
    cross = CrossAttnCache(cfg.num_layers, batch, cfg.text_len, cfg.num_heads, cfg.head_dim, dtype, "cpu")
    x = torch.randn(batch, frames, cfg.in_dim, *hw, dtype=dtype)
    t = torch.full((batch, frames), 500.0)
    with torch.no_grad():
        return peak_live_bytes(model, x, t, cross, cache, cache.plan_block(0, frames))[1], tokens


@pytest.mark.parametrize("dtype, frames", [(torch.bfloat16, 3), (torch.bfloat16, 12), (torch.float32, 3)])
def test_dit_activations_match_the_traced_peak_at_full_size(dtype, frames):
    """wan_1_3b at 480x832, batch 1: a block (3 frames) and the longest re-cache (12)."""
    cfg = dataclasses.replace(WAN, num_layers=2)          # the peak is inside one block: 2 layers suffice
    mode, model = fake_build(dtype, lambda: CausalWanModel(cfg))
    with mode:
        traced, tokens = traced_dit_peak(model, cfg, 1, frames, HW_480, dtype)
    est = memory.dit_activation_bytes(cfg, 1, frames, tokens, torch.empty((), dtype=dtype).element_size())
    print(f"\nDiT activations wan_1_3b 480x832 {dtype} {frames} frames: estimate {est / GiB:.3f} GiB, "
          f"traced {traced / GiB:.3f} GiB ({est / traced - 1:+.1%})")
    assert abs(est / traced - 1) < 0.15


def test_dit_activations_match_a_real_cpu_trace():
    """The small test model on real tensors (the tracer without FakeTensorMode), batch 2, 96 tokens a frame
    (fewer, and per-call constants such as the float64 timestep sinusoid are no longer negligible)."""
    model = small_model()
    traced, tokens = traced_dit_peak(model, SMALL, 2, 3, (16, 24), torch.float32)
    est = memory.dit_activation_bytes(SMALL, 2, 3, tokens, 4)
    assert abs(est / traced - 1) < 0.15, (est, traced)


@pytest.mark.parametrize("per_frame", [False, True])
def test_vae_activations_match_the_traced_peak_at_full_size(per_frame):
    """Wan2.1's VAE decoder at 480x832, bf16: the stream's first block and a later one."""
    mode, vae = fake_build(torch.bfloat16, lambda: WanVAEDecoder(VAEConfig()))
    with mode:
        state = vae.new_stream(1, HW_480)
        for first in (True, False):
            z = torch.randn(1, 3, 16, *HW_480, dtype=torch.bfloat16)
            with torch.no_grad():
                traced = peak_live_bytes(vae.decode_block, z, state, per_frame=per_frame)[1]
            est = memory.vae_decode_bytes(VAEConfig(), 1, HW_480, 3, per_frame, first, 2, conv_workspace=False)
            print(f"\nVAE pass 480x832 per_frame={per_frame} first={first}: estimate {est / GiB:.3f} GiB, "
                  f"traced {traced / GiB:.3f} GiB ({est / traced - 1:+.1%})")
            assert abs(est / traced - 1) < 0.15


def test_vae_activations_match_a_real_cpu_trace():
    vae = WanVAEDecoder(VAE_PRESETS["tiny"]).init_random(torch.Generator().manual_seed(0))
    state = vae.new_stream(1, (8, 8))
    for first in (True, False):
        with torch.no_grad():
            traced = peak_live_bytes(vae.decode_block, torch.randn(1, 3, 16, 8, 8), state)[1]
        est = memory.vae_decode_bytes(VAE_PRESETS["tiny"], 1, (8, 8), 3, False, first, 4, conv_workspace=False)
        assert abs(est / traced - 1) < 0.15, (first, est, traced)


def test_text_encoder_activations_match_the_traced_peak():
    from model.text import ByteTokenizer
    from model.umt5 import UMT5_XXL, UMT5PromptEncoder
    from transformers import UMT5EncoderModel
    mode, model = fake_build(torch.bfloat16, lambda: UMT5EncoderModel(UMT5_XXL.hf_config()))
    encoder = UMT5PromptEncoder(model, ByteTokenizer(512), 512)
    for n in (1, 6):
        with mode:
            traced = peak_live_bytes(encoder.encode, ["a red fox in the snow"] * n)[1]
        est = memory.text_encoder_bytes(UMT5_XXL, 2, n, 512)[1]
        assert abs(est / traced - 1) < 0.15, (n, est, traced)


def test_tracer_counts_what_is_alive_together():
    def fn():
        a = torch.empty(1000)            # 4000 B
        b = torch.empty(500)             # + 2000 B
        del a
        c = b.view(10, 50)               # a view: nothing new
        return torch.empty(250), c       # + 1000 B
    assert peak_live_bytes(fn)[1] == 6000


# ---- on a GPU: the estimate against the measured peak ------------------------------------------------------

@pytest.mark.cuda
@pytest.mark.parametrize("batch, per_frame", [(1, False), (1, True), (2, False)])
def test_estimate_within_15_percent_of_the_measured_peak(batch, per_frame):
    """wan_1_3b shapes, random weights, BF16, eager SDPA: 18 latent frames with a switch at frame 12 (a
    12-frame re-cache), every block decoded. The peak counts everything allocated from the start.
    H100, 2026-11-26, batch 1: 13.44 GiB measured, 13.41 estimated (9.91 / 9.88 with vae_per_frame)."""
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    from model.noise import SeededNoise
    from model.pipeline import PromptSegment, StreamingPipeline
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    gen = GenerationConfig()
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device("cuda"):
            model = CausalWanModel(WAN).eval()
            vae = WanVAEDecoder(VAEConfig()).eval()
    finally:
        torch.set_default_dtype(old)
    pipe = StreamingPipeline(model, gen, batch, HW_480)
    embeds = [torch.randn(512, 4096, device="cuda") * 0.1 for _ in range(2)]
    schedules = [[PromptSegment(0, embeds[0]), PromptSegment(12, embeds[1])]] * batch
    stream = vae.new_stream(batch, HW_480)
    noise = SeededNoise(list(range(batch)), (16, *HW_480), torch.bfloat16, "cuda")
    with torch.no_grad():
        for block in pipe.stream(schedules, 18, noise):
            vae.decode_block(block.latents, stream, per_frame=per_frame)
    torch.cuda.synchronize()
    measured = torch.cuda.max_memory_allocated() - base
    plan = estimate(WAN, gen, batch, HW_480, torch.bfloat16, vae_per_frame=per_frame, switch_starts=[12])
    print(f"\n{torch.cuda.get_device_name()}: batch {batch} vae_per_frame={per_frame} measured "
          f"{measured / GiB:.2f} GiB, estimate {plan.total_gib:.2f} GiB ({plan.total / measured - 1:+.1%})\n"
          f"{plan.summary()}")
    assert abs(plan.total / measured - 1) < 0.15

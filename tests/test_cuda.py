"""The same checks on a GPU: the ring cache, the attention backends and BF16 numerics (skipped without CUDA)."""
import pytest
import torch

from model.attention import math_reference, sdpa
from model.config import GenerationConfig, ModelConfig
from model.noise import SeededNoise
from model.pipeline import PromptSegment, StreamingPipeline
from model.wan import CausalWanModel

from helpers import norm_site_args

pytestmark = pytest.mark.cuda
if not torch.cuda.is_available():
    pytest.skip("needs a CUDA GPU", allow_module_level=True)

CFG = ModelConfig(dim=256, ffn_dim=512, num_heads=2, num_layers=2, text_dim=64)
HW = (8, 12)


def schedules(batch):
    g = torch.Generator().manual_seed(5)
    embeds = [torch.randn(CFG.text_len, CFG.text_dim, generator=g) for _ in range(3)]
    return [[PromptSegment(0, embeds[0]), PromptSegment(9, embeds[1 + b % 2]), PromptSegment(18, embeds[2])]
            for b in range(batch)]


def run(dtype, cache, batch=1, frames=24):
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = CausalWanModel(CFG).init_random(torch.Generator().manual_seed(0)).to(dtype).eval()
    pipe = StreamingPipeline(model, GenerationConfig(), batch, HW, cache=cache)
    noise = SeededNoise(list(range(batch)), (16, *HW), dtype, "cuda")
    with torch.no_grad():
        return pipe.generate(schedules(batch), frames, noise).float()


@pytest.fixture(autouse=True)
def no_tf32():
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


@pytest.mark.parametrize("batch", [1, 2])
def test_ring_equals_reference_fp32(batch):
    torch.testing.assert_close(run(torch.float32, "ring", batch), run(torch.float32, "reference", batch),
                               atol=1e-4, rtol=1e-4)


def test_bf16_tracks_fp32():
    ref, bf = run(torch.float32, "ring"), run(torch.bfloat16, "ring")
    assert torch.isfinite(bf).all()
    assert ((bf - ref).norm() / ref.norm()).item() < 0.05


@pytest.mark.parametrize("lk", [64, 4680])
def test_sdpa_matches_math_bf16(lk):
    g = torch.Generator("cuda").manual_seed(0)
    q, k, v = (torch.randn(1, n, 12, 128, device="cuda", generator=g, dtype=torch.bfloat16)
               for n in (lk // 2 or 1, lk, lk))
    out, ref = sdpa(q, k, v).float(), math_reference(q, k, v).float()
    assert ((out - ref).norm() / ref.norm()).item() < 1e-2


def test_fa3_fp8_attention_is_close_to_float32():
    """FP8 (e4m3, 3 mantissa bits) attention: a few percent off float32 on random data (SPEC.md section 3
    measured 5.4%), not BF16's 0.4%; the quality cost of a run is measured in the optimization log."""
    from compile.backends import register_optional_backends
    from model.attention import backend_fn
    if "fa3_fp8" not in register_optional_backends():
        pytest.skip("fa3_fp8 not available")
    g = torch.Generator("cuda").manual_seed(0)
    q, k, v = (torch.randn(1, n, 12, 128, device="cuda", generator=g, dtype=torch.bfloat16)
               for n in (512, 4680, 4680))
    ref = math_reference(q.float(), k.float(), v.float())
    out = backend_fn("fa3_fp8")(q, k, v)
    assert out.dtype == torch.bfloat16 and out.shape == q.shape
    assert ((out.float() - ref).norm() / ref.norm()).item() < 0.1


@pytest.mark.parametrize("attention", ["sdpa", "sdpa_cudnn", "fa3", "fa3_fp8"])
def test_compiled_equals_eager_without_recompiles(attention):
    """Regional compile on the GPU: after the warm-up a run with switches compiles nothing, and its
    output matches eager BF16 within BF16 noise (relative L2 < 2e-2: kernels differ in summation order
    and fusion, each rounding to BF16 ~4e-3; the autoregressive run carries the differences on). FP8
    attention: the scales and casts fuse differently, and a value on an e4m3 rounding boundary moves by
    6%: 5e-2."""
    import copy

    import torch._dynamo as dynamo
    from torch._dynamo.utils import counters

    from compile.backends import register_optional_backends
    from compile.recipe import CompileConfig, optimize, warm_up
    from model.attention import set_backend

    if attention not in register_optional_backends() + ["sdpa"]:
        pytest.skip(f"{attention} not available")
    with torch.device("cuda"):
        eager = CausalWanModel(CFG).init_random(torch.Generator().manual_seed(0)).to(torch.bfloat16).eval()
    dynamo.reset()
    compiled = optimize(copy.deepcopy(eager), CompileConfig(mode="default", attention=attention))
    sched = schedules(1)
    pipe = StreamingPipeline(compiled, GenerationConfig(), 1, HW)
    noise = lambda: SeededNoise([0], (16, *HW), torch.bfloat16, "cuda")  # noqa: E731
    with torch.no_grad():
        warm_up(pipe, sched, noise)
        counters.clear()
        with dynamo.config.patch(error_on_recompile=True):
            out = pipe.generate(sched, 24, noise()).float()
        assert counters["stats"]["unique_graphs"] == 0 and not counters["graph_break"]
        set_backend(attention)
        ref = StreamingPipeline(eager, GenerationConfig(), 1, HW).generate(sched, 24, noise()).float()
    set_backend("sdpa")
    dynamo.reset()
    assert ((out - ref).norm() / ref.norm()).item() < (5e-2 if attention == "fa3_fp8" else 2e-2)


@pytest.mark.parametrize("scheme, op", [("fp8dq_row", "_scaled_mm"), ("fp8dq_tensor", "_scaled_mm"),
                                        ("int8dq", "_int_mm")])
@pytest.mark.parametrize("mode", ["none", "default"])
def test_dynamic_schemes_run_low_precision_gemms(scheme, op, mode):
    """The dq schemes multiply in FP8 / INT8 (aten::_scaled_mm / aten::_int_mm, or an Inductor kernel
    built on them), eager and compiled: not weights dequantized to a BF16 mm."""
    import copy

    import torch._dynamo as dynamo
    from torch.profiler import ProfilerActivity, profile

    from compile.recipe import CompileConfig, optimize
    from quant.schemes import QuantConfig, check_supported
    try:
        check_supported(scheme, torch.device("cuda"))
    except ValueError as e:
        pytest.skip(str(e))
    cfg = ModelConfig(dim=512, ffn_dim=1024, num_heads=4, num_layers=2, text_dim=64)
    with torch.device("cuda"):
        model = CausalWanModel(cfg).init_random(torch.Generator().manual_seed(0)).to(torch.bfloat16).eval()
    dynamo.reset()
    model = optimize(copy.deepcopy(model), CompileConfig(mode=mode, attention="sdpa"), QuantConfig(scheme))
    pipe = StreamingPipeline(model, GenerationConfig(), 1, HW)
    emb = torch.randn(cfg.text_len, cfg.text_dim, generator=torch.Generator().manual_seed(1))
    noise = SeededNoise([0], (16, *HW), torch.bfloat16, "cuda")
    with torch.no_grad():
        stream = pipe.stream([[PromptSegment(0, emb)]], 6, noise)
        next(stream)                                            # compiles (first block's shapes)
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            next(stream)
            torch.cuda.synchronize()
    names = [e.name for e in prof.events()]
    low = [n for n in names if op in n]
    assert low, f"{scheme} ({mode}): no {op} among the ops; matmuls seen: {sorted({n for n in names if 'mm' in n})}"
    dynamo.reset()


@pytest.mark.parametrize("choice", ["none_cudagraphs", "default_cudagraphs"])
def test_cuda_graph_replays_equal_the_plain_calls(choice):
    """compile/cudagraph.py: a run with switches (batch 2: one sample switches alone, a masked re-cache)
    replayed from CUDA graphs gives the latents of the same calls made normally, and captures one graph
    per call shape."""
    import copy

    import torch._dynamo as dynamo

    from compile.recipe import CompileConfig, optimize, use_cuda_graphs, warm_up
    with torch.device("cuda"):
        base = CausalWanModel(CFG).init_random(torch.Generator().manual_seed(0)).to(torch.bfloat16).eval()
    cfg = CompileConfig.from_choice(choice, "sdpa")
    dynamo.reset()
    model = optimize(copy.deepcopy(base), cfg)
    sched = schedules(2)
    sched[1] = sched[1][:2]                                     # sample 1 switches once, sample 0 twice
    noise = lambda: SeededNoise([0, 1], (16, *HW), torch.bfloat16, "cuda")  # noqa: E731
    plain = StreamingPipeline(model, GenerationConfig(), 2, HW)
    graphed = use_cuda_graphs(StreamingPipeline(model, GenerationConfig(), 2, HW), cfg)
    with torch.no_grad():
        warm_up(plain, sched, noise)
        warm_up(graphed, sched, noise)
        shapes = len(graphed.call.graphs)
        ref = plain.generate(sched, 30, noise()).float()
        out = graphed.generate(sched, 30, noise()).float()
    assert shapes >= 5 and len(graphed.call.graphs) == shapes        # fill levels + re-caches, nothing new
    assert ((out - ref).norm() / ref.norm()).item() < 1e-3
    dynamo.reset()


def test_gelu_epilogue_is_the_tanh_gelu():
    """The lever `gelu` runs cuBLASLt's GELU epilogue: it must be the model's tanh GELU (Wan), not erf's.
    BF16 output: within rounding of linear + gelu(tanh), and nearer to it than to the erf GELU."""
    from model.wan import FeedForward
    torch.manual_seed(0)
    ffn = FeedForward(1536, 8960).cuda().to(torch.bfloat16)
    x = torch.randn(2, 4680, 1536, device="cuda", dtype=torch.bfloat16)
    with torch.no_grad():
        h = torch.nn.functional.linear(x, ffn[0].weight, ffn[0].bias).float()
        ref = ffn(x).float()
        ffn.gelu_epilogue = True
        out = ffn(x).float()
        up = torch._addmm_activation(ffn[0].bias, x.view(-1, 1536), ffn[0].weight.t(), use_gelu=True).float()
    tanh = torch.nn.functional.gelu(h, approximate="tanh").view_as(up)
    erf = torch.nn.functional.gelu(h).view_as(up)
    assert (up - tanh).abs().mean() < (up - erf).abs().mean()
    assert ((out - ref).norm() / ref.norm()).item() < 1e-2


@pytest.mark.parametrize("samples, chunks", [(None, False), ([1], False), (None, True), ([1], True)])
def test_fused_kv_write_equals_the_model_path(samples, chunks):
    """compile/kv_kernel.py against wan.SelfAttention's plain K path at the real row size (12 heads x 128):
    the same cache, to BF16 rounding (only the sum of squares is ordered differently); with a re-cache
    mask, the other sample's slots are untouched; with `chunks`, k and v are read in place from the fused
    q, k, v projection (lever qkv)."""
    from compile.kv_kernel import fused_kv_write
    from model.kv_cache import RingKVCache
    from model.rope import Rope3D, apply_rope
    from model.wan import RMSNorm
    torch.manual_seed(0)
    B, H, D, h, w = 2, 12, 128, 6, 10
    dim, L = H * D, 3 * h * w
    cache = RingKVCache(1, B, 3, 9, h * w, H, D, torch.bfloat16, "cuda")
    norm = RMSNorm(dim, 1e-6).cuda().to(torch.bfloat16)
    with torch.no_grad():
        norm.weight.copy_(1 + 0.1 * torch.randn(dim))
    plan = cache._plan(12, 3, 12, samples=samples)                  # a steady block: slots 3-5 (wrapped)
    cos, sin = Rope3D(D).cuda().tables(plan.frame_pos, h, w)
    if chunks:
        k, v = torch.randn(B, L, 3 * dim, device="cuda", dtype=torch.bfloat16).chunk(3, dim=-1)[1:]
    else:
        k, v = (torch.randn(B, L, dim, device="cuda", dtype=torch.bfloat16) for _ in range(2))
    start = torch.randn(B, 12 * h * w, H, D, device="cuda", dtype=torch.bfloat16)
    ref_k, ref_v, ck, cv = start.clone(), start.clone(), start.clone(), start.clone()
    with torch.no_grad():
        plan.write_and_read(ref_k, ref_v, apply_rope(norm(k).view(B, L, H, D), cos, sin), v.view(B, L, H, D))
        keys, _ = fused_kv_write(k, v, norm, cos, sin, plan, ck, cv)
    assert torch.equal(cv, ref_v) and keys.shape == (B, 12 * h * w, H, D)
    diff = (ck.float() - ref_k.float()).abs()
    assert (diff <= 2 ** -7 * ref_k.float().abs() + 1e-3).all()       # one BF16 rounding step
    assert (diff == 0).float().mean() > 0.9
    if samples is not None:
        assert torch.equal(ck[0], start[0])


def test_fused_q_norm_rope_equals_the_model_path():
    from compile.kv_kernel import fused_q_norm_rope
    from model.rope import Rope3D, apply_rope
    from model.wan import RMSNorm
    torch.manual_seed(0)
    B, H, D, h, w = 2, 12, 128, 6, 10
    norm = RMSNorm(H * D, 1e-6).cuda().to(torch.bfloat16)
    with torch.no_grad():
        norm.weight.copy_(1 + 0.1 * torch.randn(H * D))
    cos, sin = Rope3D(D).cuda().tables(torch.arange(7, 10, device="cuda"), h, w)
    q = torch.randn(B, 3 * h * w, H * D, device="cuda", dtype=torch.bfloat16)
    with torch.no_grad():
        ref = apply_rope(norm(q).view(B, -1, H, D), cos, sin).flatten(2).float()
        out = fused_q_norm_rope(q, norm, cos, sin).float()
    diff = (out - ref).abs()
    assert (diff <= 2 ** -7 * ref.abs() + 1e-3).all() and (diff == 0).float().mean() > 0.9


def test_levers_with_cuda_graphs_equal_the_plain_model():
    """gelu + kv_only + kv_write + q_rope, compiled and replayed from CUDA graphs, against the plain eager model (BF16)."""
    import copy

    import torch._dynamo as dynamo

    from compile.recipe import CompileConfig, optimize, use_cuda_graphs, warm_up
    with torch.device("cuda"):
        base = CausalWanModel(CFG).init_random(torch.Generator().manual_seed(0)).to(torch.bfloat16).eval()
    cfg = CompileConfig.from_choice("default_cudagraphs", "sdpa", levers=("gelu", "kv_only", "kv_write", "q_rope"))
    dynamo.reset()
    model = optimize(copy.deepcopy(base), cfg)
    assert model.kv_only_context and all(b.ffn.gelu_epilogue for b in model.blocks)
    assert all(b.self_attn.kv_writer is not None and b.self_attn.q_rope is not None for b in model.blocks)
    sched = schedules(1)
    noise = lambda: SeededNoise([0], (16, *HW), torch.bfloat16, "cuda")  # noqa: E731
    fast = use_cuda_graphs(StreamingPipeline(model, GenerationConfig(), 1, HW), cfg)
    with torch.no_grad():
        ref = StreamingPipeline(base, GenerationConfig(), 1, HW).generate(sched, 30, noise()).float()
        warm_up(fast, sched, noise)
        out = fast.generate(sched, 30, noise()).float()
    assert ((out - ref).norm() / ref.norm()).item() < 2e-2
    dynamo.reset()


@pytest.mark.parametrize("site", ["norm1", "norm3", "norm2"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_add_norm_kernel_equals_the_block_code(site, dtype):
    """compile/norm_kernel.py at the block's three LayerNorm sites (norm1 + modulation; gated residual + affine
    norm3; residual + norm2 + modulation), 2 samples x 3 frames of 50 tokens, C = 1536 (not a power of 2),
    per-frame vectors as the block's strided views: float32 to rounding, BF16 to BF16 rounding."""
    from compile.norm_kernel import add_norm, add_norm_reference
    args, f = norm_site_args(site, dtype)
    with torch.no_grad():
        want = [t.float() for t in add_norm_reference(*args, f)]
        got = [t.float() for t in add_norm(*args, f)]
    tol = 1e-4 if dtype == torch.float32 else 4e-2
    for w, o in zip(want, got):
        assert o.shape == w.shape
        torch.testing.assert_close(o, w, atol=tol, rtol=tol)


def test_add_norm_lever_with_cuda_graphs_tracks_the_plain_model():
    """Lever ln with the default levers, compiled and replayed from CUDA graphs, against the plain eager model
    (BF16), as test_levers_with_cuda_graphs_equal_the_plain_model."""
    import copy

    import torch._dynamo as dynamo

    from compile.recipe import CompileConfig, optimize, use_cuda_graphs, warm_up
    with torch.device("cuda"):
        base = CausalWanModel(CFG).init_random(torch.Generator().manual_seed(0)).to(torch.bfloat16).eval()
    cfg = CompileConfig.from_choice("default_cudagraphs", "sdpa", levers=("gelu", "kv_only", "kv_write", "ln"))
    dynamo.reset()
    model = optimize(copy.deepcopy(base), cfg)
    assert all(b.add_norm is not None for b in model.blocks)
    sched = schedules(1)
    noise = lambda: SeededNoise([0], (16, *HW), torch.bfloat16, "cuda")  # noqa: E731
    fast = use_cuda_graphs(StreamingPipeline(model, GenerationConfig(), 1, HW), cfg)
    with torch.no_grad():
        ref = StreamingPipeline(base, GenerationConfig(), 1, HW).generate(sched, 30, noise()).float()
        warm_up(fast, sched, noise)
        out = fast.generate(sched, 30, noise()).float()
    assert ((out - ref).norm() / ref.norm()).item() < 2e-2
    dynamo.reset()


def test_benchmark_with_the_vae_on_a_second_stream(tmp_path):
    """scripts/benchmark.py vae_overlap=true on the GPU (tiny model): the row has the decode (side stream),
    end-to-end and frame-interval figures."""
    import json
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "scripts/benchmark.py", "model=tiny", "device=cuda", "num_frames=36",
                          "prompts.switch_frames=[6,12,18,24,30]", "vae=true", "vae_overlap=true",
                          f"out_dir={tmp_path}", f"hydra.run.dir={tmp_path}/run", "paths=[ring:none:sdpa]"],
                         cwd=root, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    row = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert row["vae_overlap"] and row["frames_interval_ms_per_latent_frame"] > 0
    assert row["e2e_ms_per_latent_frame"] >= row["vae_ms_per_latent_frame"] > 0


def _fa3_steady_inputs():
    """The FA3 lever tests' common start: skip without FA3; random BF16 q, k, v of the steady self-attention (4680
    queries, 18720 keys, 12 heads of 128) and the single FA3 call's output in float32."""
    from compile import backends
    from model.attention import backend_fn
    if "fa3" not in backends.register_optional_backends():
        pytest.skip("fa3 not available")
    g = torch.Generator("cuda").manual_seed(0)
    q, k, v = (torch.randn(1, n, 12, 128, device="cuda", generator=g, dtype=torch.bfloat16)
               for n in (4680, 18720, 18720))
    return q, k, v, backend_fn("fa3")(q, k, v).float()


def _tiny_model_without_and_with(lever):
    """The compiled tiny model (FA3, whole-forward CUDA graphs) without and with an FA3 lever: the two outputs of a
    30-frame run after warm-up, each asserted free of recompiles and graph breaks; the lever is off after."""
    import copy

    import torch._dynamo as dynamo
    from torch._dynamo.utils import counters

    from compile import backends
    from compile.recipe import CompileConfig, optimize, use_cuda_graphs, warm_up
    with torch.device("cuda"):
        base = CausalWanModel(CFG).init_random(torch.Generator().manual_seed(0)).to(torch.bfloat16).eval()
    sched = schedules(1)
    noise = lambda: SeededNoise([0], (16, *HW), torch.bfloat16, "cuda")  # noqa: E731
    outs = []
    for levers in ((), (lever,)):
        dynamo.reset()
        cfg = CompileConfig.from_choice("default_cudagraphs", "fa3", levers=levers)
        pipe = use_cuda_graphs(StreamingPipeline(optimize(copy.deepcopy(base), cfg), GenerationConfig(), 1, HW), cfg)
        with torch.no_grad():
            warm_up(pipe, sched, noise)
            counters.clear()
            outs.append(pipe.generate(sched, 30, noise()).float())
        assert counters["stats"]["unique_graphs"] == 0 and not counters["graph_break"]
    for off in (backends.set_fa3_split, backends.set_fa3_waves, backends.set_fa3_halves):
        off(False)                                       # the process-wide lever that optimize() set
    dynamo.reset()
    return outs


def _fa3_with(setter, q, k, v, compiled: bool = False):
    """The FA3 backend on q, k, v (float32 out) with a process-wide FA3 lever on for this call only."""
    from model.attention import backend_fn
    fn = torch.compile(backend_fn("fa3"), fullgraph=True) if compiled else backend_fn("fa3")
    setter(True)
    try:
        return fn(q, k, v).float()
    finally:
        setter(False)


def test_fa3_split_keys_equal_one_part(monkeypatch):
    """Lever `split` (compile/backends.fa3_num_splits): FA3 with its keys in parts, combined in float32, is the
    unsplit attention to BF16 rounding, eagerly at the steady-state shape and in the compiled tiny model (made
    to split every call in 2) replayed from CUDA graphs, without recompiles."""
    from compile import backends
    q, k, v, one = _fa3_steady_inputs()
    split = _fa3_with(backends.set_fa3_split, q, k, v)
    assert ((split - one).norm() / one.norm()).item() < 5e-3
    monkeypatch.setattr(backends, "fa3_num_splits", lambda *args, **kwargs: 2)      # the tiny shapes would not split
    outs = _tiny_model_without_and_with("split")
    assert ((outs[1] - outs[0]).norm() / outs[0].norm()).item() < 2e-2


def test_fa3_waves_equal_one_call(monkeypatch):
    """Lever `waves` (compile/backends.fa3_wave_plan, the custom op fa3_waves): the whole-wave query tiles with all
    keys and the rest with their keys in 2 parts, written into one output, are the single FA3 call to BF16
    rounding at the steady-state shape; the compiled tiny model (made to take that path every call) replayed
    from CUDA graphs matches the plain FA3 path without recompiles or graph breaks."""
    from compile import backends
    q, k, v, one = _fa3_steady_inputs()
    waves = _fa3_with(backends.set_fa3_waves, q, k, v)
    assert backends.fa3_wave_plan(1, 4680, 18720, 12, 132) == (4224, 2)
    assert backends.fa3_writes_into_out()                 # else optimize() turns the lever off
    assert ((waves - one).norm() / one.norm()).item() < 5e-3
    assert ((waves[:, :4224] - one[:, :4224]).abs().max()).item() == 0         # the whole waves: the same kernel
    monkeypatch.setattr(backends, "fa3_wave_plan", lambda b, lq, *args, **kwargs: (lq // 2, 2))    # tiny shapes
    outs = _tiny_model_without_and_with("waves")
    assert ((outs[1] - outs[0]).norm() / outs[0].norm()).item() < 2e-2


def test_fa3_halves_equal_one_call():
    """Lever `halves` (compile/backends.fa3_halves): the keys' two halves as a batch of 2 merged by their
    log-sum-exp are the single FA3 call to BF16 rounding at the steady-state shape, eagerly and compiled."""
    from compile import backends
    q, k, v, one = _fa3_steady_inputs()
    for out in (_fa3_with(backends.set_fa3_halves, q, k, v), _fa3_with(backends.set_fa3_halves, q, k, v, True)):
        assert ((out - one).norm() / one.norm()).item() < 5e-3


def test_shared_pool_outlives_its_graphs():
    """compile/cudagraph.GraphPool: after one owner's graphs are gone, another can still capture into the shared
    pool (PyTorch asserts on a pool whose graphs are all gone before it is released; the pool's own tiny graph
    keeps it alive)."""
    from compile.cudagraph import shared_pool
    pool, x = shared_pool(), torch.zeros(4, device="cuda")
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g, pool=pool.handle):
        y = x * 2
    del g, y
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g, pool=shared_pool().handle):
        y = x + 1
    g.replay()
    assert shared_pool() is pool and torch.equal(y, torch.ones(4, device="cuda"))


@pytest.mark.skipif(not __import__("os").environ.get("LONGLIVE_SRC"),
                    reason="LONGLIVE_SRC names no LongLive 1.0 checkout (scripts/longlive_ref.py)")
def test_longlive_code_runs_timed_block_by_block():
    """LongLive's own pipeline at the real frame size with 2 layers: 15 latent frames, a switch at 9; every block
    timed, the switch's block marked, finite latents, and FA3 where the fa3-fwd wheel is installed."""
    import importlib.util
    import os
    from scripts.longlive_ref import forget_longlive, time_longlive
    cfg, gen = ModelConfig(num_layers=2), GenerationConfig()
    model = CausalWanModel(cfg).init_random(torch.Generator().manual_seed(0)).to(torch.bfloat16)
    sched = [PromptSegment(0, torch.randn(512, 4096), "a"), PromptSegment(9, torch.randn(512, 4096), "b")]
    try:
        r = time_longlive(os.environ["LONGLIVE_SRC"], model.state_dict(), cfg, gen, (60, 104), sched, 15, 0,
                          torch.device("cuda"), torch.bfloat16)
    finally:                          # LongLive's package names (wan, pipeline, utils) leave with the test
        forget_longlive()
    assert [b["first_frame"] for b in r["blocks"]] == [0, 3, 6, 9, 12]
    assert [bool(b["switched"]) for b in r["blocks"]] == [False, False, False, True, False]
    assert all(b["ms"] > 0 for b in r["blocks"]) and torch.isfinite(r["latents"]).all()
    if importlib.util.find_spec("fa3_fwd_interface"):
        assert r["longlive_attention"] == "fa3"

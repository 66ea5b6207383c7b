"""The compile recipe's levers (compile/recipe.py LEVERS) change how the model computes, never what:
fused QKV, the GELU GEMM epilogue (CUDA; see test_cuda.py) and the cache-writes-only clean-context and
re-cache passes. Held against the plain model on the CPU, eager and compiled."""
import copy
import logging

import pytest
import torch
import torch._dynamo as dynamo
from torch._dynamo.utils import counters
from torch.testing import assert_close

from compile.recipe import CompileConfig, optimize, warm_up
from model.config import GenerationConfig
from model.noise import SeededNoise
from model.pipeline import StreamingPipeline

from helpers import FRAME_SHAPE, LATENT_HW, cpu_rowwise_fp8_mm, schedule, small_model
from helpers import run as record_run

SCHED = [schedule([9, 15], [1, 2, 3])]          # switches with re-caches before and after the window is full


def run(model, frames=24, batch=1, sched=SCHED):
    pipe = StreamingPipeline(model, GenerationConfig(), batch, LATENT_HW)
    noise = SeededNoise(list(range(batch)), FRAME_SHAPE, torch.float32, "cpu")
    with torch.no_grad():
        out = pipe.generate(sched, frames, noise)
    return pipe, out


def test_kv_only_passes_write_the_same_cache_and_video():
    """Eager, so bit-for-bit: stopping the clean-context and re-cache passes after the last layer's K/V
    changes nothing that is kept."""
    ref_pipe, ref = run(small_model())
    model = optimize(copy.deepcopy(small_model()), CompileConfig(levers=("kv_only",)))
    assert model.kv_only_context
    pipe, out = run(model)
    assert torch.equal(out, ref)
    assert torch.equal(pipe.cache.k, ref_pipe.cache.k) and torch.equal(pipe.cache.v, ref_pipe.cache.v)


def test_kv_only_model_call_returns_none_and_skips_the_last_layers_work():
    model = optimize(copy.deepcopy(small_model()), CompileConfig(levers=("kv_only",)))
    pipe = StreamingPipeline(model, GenerationConfig(), 1, LATENT_HW)
    seen = []
    last = model.blocks[-1]
    hooks = [last.cross_attn.register_forward_hook(lambda *a: seen.append("cross")),
             model.head.register_forward_hook(lambda *a: seen.append("head"))]
    plan = pipe.cache.plan_block(0, 3)
    x = torch.randn(1, 3, *FRAME_SHAPE)
    with torch.no_grad():
        pipe._set_prompts([schedule([], [1])[0].embeds])
        assert pipe.call(x, torch.zeros(1, 3), plan, kv_only=True) is None
        assert seen == []
        assert pipe.call(x, torch.zeros(1, 3), plan).shape == x.shape
        assert seen == ["cross", "head"]
    for h in hooks:
        h.remove()


def test_an_observer_still_sees_every_flow():
    """The fidelity checker records the context and re-cache flows: with an observer the passes run whole."""
    model = optimize(copy.deepcopy(small_model()), CompileConfig(levers=("kv_only",)))
    calls = record_run(SCHED, [0], 18, model=model).calls
    assert {c.phase for c in calls} == {"denoise", "context", "recache"}
    assert all(c.flow.shape[-3:] == FRAME_SHAPE[-3:] for c in calls)


def test_fused_qkv_equals_separate_projections():
    _, ref = run(small_model())
    model = optimize(copy.deepcopy(small_model()), CompileConfig(levers=("qkv",)))
    attn = model.blocks[0].self_attn
    assert hasattr(attn, "qkv") and not hasattr(attn, "q") and attn.qkv.weight.shape == (3 * 64, 64)
    _, out = run(model)
    assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_gelu_epilogue_is_skipped_off_cuda(caplog):
    """The CPU's _addmm_activation applies the erf GELU, not the model's tanh: the lever stays off there."""
    with caplog.at_level(logging.INFO, logger="longlive_fast"):
        model = optimize(copy.deepcopy(small_model()), CompileConfig(levers=("gelu",)))
    assert not any(b.ffn.gelu_epilogue for b in model.blocks)
    assert "lever gelu skipped" in caplog.text


def test_triton_kv_write_is_skipped_off_cuda(caplog):
    with caplog.at_level(logging.INFO, logger="longlive_fast"):
        model = optimize(copy.deepcopy(small_model()), CompileConfig(levers=("kv_write",)))
    assert all(b.self_attn.kv_writer is None for b in model.blocks)
    assert "lever kv_write skipped" in caplog.text


def test_add_norm_path_with_the_reference_is_the_plain_block():
    """AttentionBlock.forward_add_norm (lever ln's wiring) with compile/norm_kernel.py's plain-torch reference:
    the same video and cache bit for bit (the reference is the block's own code), kv_only passes included;
    the lever itself is skipped off CUDA."""
    from compile.norm_kernel import add_norm_reference
    ref_pipe, ref = run(small_model(), batch=2, sched=SCHED * 2)
    model = optimize(copy.deepcopy(small_model()), CompileConfig(levers=("kv_only",)))
    for block in model.blocks:
        block.add_norm = add_norm_reference
    pipe, out = run(model, batch=2, sched=SCHED * 2)
    assert torch.equal(out, ref) and torch.equal(pipe.cache.k, ref_pipe.cache.k)


@pytest.mark.skipif(not cpu_rowwise_fp8_mm(), reason="this torch's CPU _scaled_mm takes per-tensor scales only")
def test_add_norm_fp8_path_with_the_reference_runs_the_fp8_gemms():
    """Lever ln's FP8 wiring (quant=fp8dq_row: the norm sites hand (e4m3 rows, scales) to q, k, v, the
    cross-attention q and the FFN's up projection, model.wan.linear) on the CPU with compile/norm_kernel.py's
    plain-torch reference and e4m3 weights quantized by rows as torchao does (torchao itself refuses the CPU):
    the run goes through the FP8 GEMMs (torch._scaled_mm) and stays within FP8 error of the BF16 model."""
    from compile.fp8_kernel import quantize_rows_reference
    from compile.norm_kernel import add_norm_fp8_reference
    from compile.recipe import _norm_fed
    base = copy.deepcopy(small_model()).to(torch.bfloat16)
    _, ref = run(base)
    model = copy.deepcopy(base)
    for block in model.blocks:
        block.add_norm = add_norm_fp8_reference
        for lin in _norm_fed(block):
            w, s = quantize_rows_reference(lin.weight.data)     # rows of [out, in]: per output channel
            lin.fp8_in = (w.t(), s.reshape(1, -1), torch.bfloat16, False)
    calls = []
    real = torch._scaled_mm

    def counted(*args, **kwargs):
        calls.append(args[0].dtype)
        return real(*args, **kwargs)
    try:
        torch._scaled_mm = counted
        _, out = run(model)
    finally:
        torch._scaled_mm = real
    rel = ((out.float() - ref.float()).norm() / ref.float().norm()).item()
    assert calls and set(calls) == {torch.float8_e4m3fn}
    assert 0 < rel < 0.05, rel                                   # 1.1e-2 measured


def test_triton_add_norm_is_skipped_off_cuda(caplog):
    with caplog.at_level(logging.INFO, logger="longlive_fast"):
        model = optimize(copy.deepcopy(small_model()), CompileConfig(levers=("ln",)))
    assert all(b.add_norm is None for b in model.blocks)
    assert "lever ln skipped" in caplog.text


def test_unknown_lever_is_refused():
    with pytest.raises(ValueError, match="compile.levers"):
        CompileConfig(levers=("fuse_everything",))


def test_compiled_levers_equal_eager_without_recompiles_after_warm_up():
    """Inductor (CPU) with qkv + kv_only + mod: same video as the plain eager model through switches and the
    window wrap; the kv_only graphs are met in the warm-up, so the run compiles nothing new."""
    _, ref = run(small_model())
    dynamo.reset()
    model = optimize(copy.deepcopy(small_model()), CompileConfig(mode="default", levers=("qkv", "kv_only", "mod")))
    pipe = StreamingPipeline(model, GenerationConfig(), 1, LATENT_HW)
    noise = lambda: SeededNoise([0], FRAME_SHAPE, torch.float32, "cpu")  # noqa: E731
    with torch.no_grad():
        warm_up(pipe, SCHED, noise)
        counters.clear()
        out = pipe.generate(SCHED, 24, noise())
    assert counters["stats"]["unique_graphs"] == 0 and not counters["graph_break"]
    assert_close(out, ref, atol=1e-5, rtol=1e-5)
    dynamo.reset()


def test_kv_write_reads_the_fused_projection_in_place():
    """compile/kv_kernel._rows: the kv_write kernel reads K and V where they are when each row is contiguous
    and the samples are whole rows apart (a plain projection, or a chunk of lever qkv's fused one); anything
    else is copied first."""
    from compile.kv_kernel import _rows
    qkv = torch.randn(2, 5, 12)
    k = qkv.chunk(3, dim=-1)[1]
    assert _rows(k) is k and _rows(qkv[..., :4].contiguous()).is_contiguous()
    odd = torch.randn(5, 2, 4).transpose(0, 1)                     # samples interleaved row by row
    assert _rows(odd) is not odd and torch.equal(_rows(odd), odd)
    one = qkv[1:, :, 4:8]                                          # one sample: its batch stride is never used
    assert _rows(one) is one
    gaps = qkv[:, ::2, 4:8]                                        # every other row: samples not 3 rows apart
    assert _rows(gaps) is not gaps and torch.equal(_rows(gaps), gaps)


def test_modulation_rows_computed_once_per_forward_are_the_blocks_own():
    """Lever mod: the model adds every block's modulation to e0 in one op and passes the rows; the same sums in
    the same dtype, so the same video and cache bit for bit (eager), kv_only passes and batch 2 included."""
    ref_pipe, ref = run(small_model(), batch=2, sched=SCHED * 2)
    model = optimize(copy.deepcopy(small_model()), CompileConfig(levers=("kv_only", "mod")))
    assert all(b.premodulated for b in model.blocks)
    pipe, out = run(model, batch=2, sched=SCHED * 2)
    assert torch.equal(out, ref) and torch.equal(pipe.cache.k, ref_pipe.cache.k)
    assert not any(b.premodulated for b in optimize(model, CompileConfig()).blocks)     # and off again

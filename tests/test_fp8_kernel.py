"""compile/fp8_kernel.py: the FFN's GELU + row-wise FP8 quantization in one kernel (lever fp8_gelu). On the CPU:
its plain-torch reference is torchao's own quantization of the GELU output, and the lever stays off; on an FP8
GPU the Triton kernel is held to the reference and the FFN with the lever to torchao's FFN."""
import copy
import logging

import pytest
import torch

from compile import fp8_kernel
from compile.recipe import CompileConfig, optimize

from helpers import cpu_rowwise_fp8_mm, norm_site_args, small_model

fp8_gpu = pytest.mark.skipif(not torch.cuda.is_available() or fp8_kernel.UNAVAILABLE is not None
                             or torch.cuda.get_device_capability() < (8, 9),
                             reason="needs an FP8 CUDA GPU (compute capability >= 8.9) and Triton")


def hidden(rows=64, cols=8960, device="cpu", seed=0):
    g = torch.Generator(device).manual_seed(seed)
    h = torch.randn(rows, cols, generator=g, device=device) * 2
    h[0] = 0                                                   # a row of zeros: scale 1, not a division by 0
    return h.to(torch.bfloat16)


def test_reference_is_torchaos_row_wise_quantization_of_the_gelu():
    from torchao.quantization.quant_primitives import _choose_scale_float8, _quantize_affine_float8
    h = hidden()[1:]
    g = torch.nn.functional.gelu(h, approximate="tanh")
    scale = _choose_scale_float8(g, block_size=[1, g.shape[1]], float8_dtype=torch.float8_e4m3fn)
    q, s = fp8_kernel.gelu_fp8_rows_reference(h)
    assert torch.equal(s, scale.reshape(-1, 1))
    assert torch.equal(q.view(torch.uint8), _quantize_affine_float8(g, scale, torch.float8_e4m3fn).view(torch.uint8))


def test_lever_is_skipped_off_cuda_and_without_fp8_weights(caplog):
    with caplog.at_level(logging.INFO, logger="longlive_fast"):
        model = optimize(copy.deepcopy(small_model()), CompileConfig(levers=("fp8_gelu",)))
    assert "lever fp8_gelu skipped" in caplog.text
    assert all(b.ffn.fp8_gelu is None for b in model.blocks)


@fp8_gpu
def test_kernel_equals_the_reference():
    h = hidden(device="cuda")
    q, s = fp8_kernel.gelu_fp8_rows(h)
    rq, rs = fp8_kernel.gelu_fp8_rows_reference(h)
    assert s.shape == (h.shape[0], 1) and s[0].item() == 1.0 and (q[0].float() == 0).all()
    assert torch.equal(s, rs)
    same = (q.view(torch.uint8) == rq.view(torch.uint8)).float().mean().item()
    assert same > 0.999, same                                # the GELU's float32 rounding may differ in 1 ulp
    assert (q.float() - rq.float()).abs().max().item() <= 32  # never more than one e4m3 step (at most 32 near 448)


@fp8_gpu
def test_ffn_with_the_lever_tracks_torchaos_ffn():
    """The fp8dq_row model with the lever: every FFN's output against torchao's own FFN, eager, BF16."""
    from quant.schemes import QuantConfig
    from model.wan import CausalWanModel
    from model.config import PRESETS
    cfg = PRESETS["tiny"]
    with torch.device("cuda"):
        base = CausalWanModel(cfg).init_random(torch.Generator().manual_seed(0)).to(torch.bfloat16).eval()
    ref = optimize(copy.deepcopy(base), CompileConfig(), QuantConfig("fp8dq_row"))
    fast = optimize(copy.deepcopy(base), CompileConfig(levers=("fp8_gelu",)), QuantConfig("fp8dq_row"))
    assert all(b.ffn.fp8_gelu is not None for b in fast.blocks)
    x = torch.randn(2, 300, cfg.dim, device="cuda", dtype=torch.bfloat16)
    with torch.no_grad():
        for rb, fb in zip(ref.blocks, fast.blocks):
            want, got = rb.ffn(x).float(), fb.ffn(x).float()
            assert ((got - want).norm() / want.norm()).item() < 1e-2


@pytest.mark.skipif(not cpu_rowwise_fp8_mm(), reason="this torch's CPU _scaled_mm takes per-tensor scales only")
def test_linear_on_a_quantized_pair_is_the_scaled_gemm():
    """model.wan.linear on a (data, scales) pair (levers ln / fp8_gelu on the fp8dq_row path) multiplies the FP8
    rows by the Linear's FP8 weights, both scales and the bias applied, as the dequantized product."""
    from model.wan import linear
    g = torch.Generator().manual_seed(0)
    lin = torch.nn.Linear(64, 32).to(torch.bfloat16)
    w8 = torch.randn(32, 64, generator=g).to(torch.float8_e4m3fn)
    ws = torch.rand(1, 32, generator=g) + 0.5
    lin.fp8_in = (w8.t(), ws, torch.bfloat16, False)
    h = (torch.randn(2, 5, 64, generator=g) * 3).to(torch.bfloat16)
    q, s = fp8_kernel.quantize_rows_reference(h)
    assert q.shape == h.shape and s.shape == (10, 1)
    y = linear(lin, (q, s))
    want = (q.float().reshape(10, 64) * s) @ (w8.float() * ws.t()).t() + lin.bias.float()
    assert y.shape == (2, 5, 32) and y.dtype == torch.bfloat16
    torch.testing.assert_close(y.float(), want.view(2, 5, 32), atol=2e-2, rtol=1e-2)
    assert torch.equal(linear(lin, h), lin(h))                  # a tensor goes through the module


@fp8_gpu
@pytest.mark.parametrize("site", ["norm1", "norm3", "norm2"])
def test_norm_kernel_quantizes_as_torchao(site):
    """compile/norm_kernel.add_norm_fp8 (lever ln on the fp8dq_row path) at the block's three LayerNorm sites
    against the block's code followed by torchao's quantization: the residual to BF16 rounding, the scales to
    BF16 rounding, the dequantized rows within an e4m3 step of the reference's."""
    from compile.norm_kernel import add_norm_fp8, add_norm_fp8_reference
    args, f = norm_site_args(site)
    x, c = args[0], args[0].shape[-1]
    with torch.no_grad():
        rx, (rq, rs) = add_norm_fp8_reference(*args, f)
        kx, (kq, ks) = add_norm_fp8(*args, f)
    assert kq.dtype == torch.float8_e4m3fn and kq.shape == x.shape and ks.shape == (x.shape[0] * x.shape[1], 1)
    torch.testing.assert_close(kx.float(), rx.float(), atol=4e-2, rtol=4e-2)
    torch.testing.assert_close(ks, rs, atol=0, rtol=2 ** -6)   # amax / 448 rounded to BF16 on both sides
    deq = lambda q, s: q.float().reshape(-1, c) * s              # noqa: E731
    err = (deq(kq, ks) - deq(rq, rs)).abs()
    assert (err <= deq(rq, rs).abs() * 0.13 + rs * 2 ** -9 + 1e-2).all()
    assert (kq.view(torch.uint8) == rq.view(torch.uint8)).float().mean().item() > 0.8


@fp8_gpu
def test_model_with_ln_on_fp8_tracks_torchaos_model():
    """The fp8dq_row model with levers ln + fp8_gelu over a 12-frame run: eager against torchao's eager model,
    then compiled and replayed from CUDA graphs against it, without recompiles or graph breaks after warm-up."""
    import torch._dynamo as dynamo
    from torch._dynamo.utils import counters

    from compile.recipe import use_cuda_graphs, warm_up
    from model.config import GenerationConfig, ModelConfig
    from model.noise import SeededNoise
    from model.pipeline import PromptSegment, StreamingPipeline
    from model.wan import CausalWanModel
    from quant.schemes import QuantConfig
    cfg = ModelConfig(dim=512, ffn_dim=1024, num_heads=4, num_layers=2, text_dim=64)
    with torch.device("cuda"):
        base = CausalWanModel(cfg).init_random(torch.Generator().manual_seed(0)).to(torch.bfloat16).eval()
    dynamo.reset()
    ref = optimize(copy.deepcopy(base), CompileConfig(), QuantConfig("fp8dq_row"))
    eager = optimize(copy.deepcopy(base), CompileConfig(levers=("ln", "fp8_gelu")), QuantConfig("fp8dq_row"))
    assert all(b.add_norm is not None and b.ffn.fp8_gelu is not None for b in eager.blocks)
    hw = (16, 24)
    emb = torch.randn(cfg.text_len, cfg.text_dim, generator=torch.Generator().manual_seed(1))
    sched = [[PromptSegment(0, emb)]]
    noise = lambda: SeededNoise([0], (16, *hw), torch.bfloat16, "cuda")  # noqa: E731
    with torch.no_grad():
        want = StreamingPipeline(ref, GenerationConfig(), 1, hw).generate(sched, 12, noise()).float()
        got = StreamingPipeline(eager, GenerationConfig(), 1, hw).generate(sched, 12, noise()).float()
        assert ((got - want).norm() / want.norm()).item() < 3e-2
        choice = CompileConfig.from_choice("default_cudagraphs", "sdpa", levers=("kv_only", "ln", "fp8_gelu", "mod"))
        fast = use_cuda_graphs(StreamingPipeline(optimize(copy.deepcopy(base), choice, QuantConfig("fp8dq_row")),
                                                 GenerationConfig(), 1, hw), choice)
        warm_up(fast, sched, noise)
        counters.clear()
        out = fast.generate(sched, 12, noise()).float()
    assert counters["stats"]["unique_graphs"] == 0 and not counters["graph_break"]
    assert ((out - want).norm() / want.norm()).item() < 3e-2
    dynamo.reset()

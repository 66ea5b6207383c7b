"""compile/fp8_kernel.py: the FFN's GELU + row-wise FP8 quantization in one kernel (lever fp8_gelu). On the CPU:
its plain-torch reference is torchao's own quantization of the GELU output, and the lever stays off; on an FP8
GPU the Triton kernel is held to the reference and the FFN with the lever to torchao's FFN."""
import copy
import logging

import pytest
import torch

from compile import fp8_kernel
from compile.recipe import CompileConfig, optimize

from helpers import small_model

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

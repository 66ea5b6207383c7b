"""torchao schemes on the DiT: chosen by name, exclusions kept, VAE/text encoder untouched, quality stated."""
import copy

import pytest
import torch
from torch import nn

from model.vae import VAE_PRESETS, WanVAEDecoder
from quant.schemes import DEFAULT_EXCLUDE, QuantConfig, check_supported, quantize, selected

from helpers import run, schedule, small_model

CPU_SCHEMES = ["int8wo", "int8dq", "fp8wo"]
# Latent SQNR (dB) against the FP32 model over 9 latent frames of the small random model, measured
# 2026-11-25 on the CPU (torchao 0.18): int8wo 51.9, int8dq 49.1, fp8wo 40.9; floors ~6 dB below.
MIN_SQNR = {"int8wo": 45.0, "int8dq": 43.0, "fp8wo": 35.0}
SCHED = [schedule([6], [1, 2])]


def sqnr(ref, out):
    return (10 * torch.log10(ref.pow(2).mean() / (out - ref).pow(2).mean())).item()


def plain(t):
    return type(t) in (torch.Tensor, nn.Parameter)


def test_selection_by_name():
    names = selected(small_model(), DEFAULT_EXCLUDE)
    assert "blocks.0.self_attn.q" in names and "blocks.1.ffn.2" in names and "blocks.0.cross_attn.k" in names
    assert not any(n.startswith(("text_embedding", "time_embedding", "time_projection", "head")) for n in names)
    assert len(names) == 10 * 2                         # 10 Linears per block, 2 blocks
    assert len(selected(small_model(), DEFAULT_EXCLUDE + ("blocks.1",))) == 10


@pytest.mark.parametrize("scheme", CPU_SCHEMES)
def test_scheme_quantizes_selected_layers_only(scheme):
    model = quantize(copy.deepcopy(small_model()), QuantConfig(scheme))
    names = set(selected(model, DEFAULT_EXCLUDE))
    for fqn, m in model.named_modules():
        if isinstance(m, nn.Linear):
            assert plain(m.weight) != (fqn in names), fqn
    for fqn, p in model.named_parameters():
        if "modulation" in fqn or "norm" in fqn or fqn.startswith("patch_embedding"):
            assert plain(p), fqn


@pytest.mark.parametrize("scheme", CPU_SCHEMES)
def test_quality_against_unquantized(scheme):
    ref = run(SCHED, [3], 9).latents
    out = run(SCHED, [3], 9, model=quantize(copy.deepcopy(small_model()), QuantConfig(scheme))).latents
    assert torch.isfinite(out).all()
    assert MIN_SQNR[scheme] <= sqnr(ref, out) < 200          # close, and really quantized


def test_vae_and_text_encoder_are_never_quantized():
    vae = WanVAEDecoder(VAE_PRESETS["tiny"])
    with pytest.raises(TypeError, match="VAE and the text encoder stay unquantized"):
        quantize(vae, QuantConfig("int8wo"))
    from model.umt5 import UMT5PromptEncoder
    enc = UMT5PromptEncoder.tiny_random(32)
    with pytest.raises(TypeError, match="not UMT5PromptEncoder"):
        quantize(enc, QuantConfig("int8wo"))
    assert all(plain(p) for p in vae.parameters())


def test_generate_quantizes_the_dit_only(tmp_path, monkeypatch):
    """Through the job: the DiT's Linears are quantized, the VAE the job decodes with is not."""
    import scripts.generate as g
    seen = {}
    build_vae = g.build_vae

    def spy_vae(spec):
        seen["vae"] = build_vae(spec)
        return seen["vae"]

    monkeypatch.setattr(g, "build_vae", spy_vae)
    from test_generate import cfg
    timings = g.run(cfg("device=cpu", "num_frames=3", "quant=int8wo"), tmp_path)
    assert timings["quant"] == "int8wo"
    assert all(plain(p) for p in seen["vae"].parameters())


@pytest.mark.parametrize("scheme", ["fp8dq_tensor", "fp8dq_row"])
def test_fp8_matmul_refused_without_fp8_gpu(scheme):
    with pytest.raises(ValueError, match=f"quant={scheme} needs"):
        check_supported(scheme, torch.device("cpu"))


@pytest.mark.parametrize("scheme", ["fp8dq_tensor", "fp8dq_row"])
def test_fp8_matmul_refused_on_a_gpu_below_compute_capability_8_9(scheme, monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA A100-SXM4-80GB")
    with pytest.raises(ValueError, match=rf"quant={scheme} needs compute capability >= 8.9 but NVIDIA A100-SXM4-80GB "
                                         r"has 8.0; use quant=int8dq or int8wo"):
        check_supported(scheme, torch.device("cuda"))
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (9, 0))
    check_supported(scheme, torch.device("cuda"))                # an H100 passes


@pytest.mark.parametrize("scheme", ["int8wo", "int8dq", "fp8wo"])
def test_quantize_leaves_the_compiler_flags_alone(scheme):
    """torchao's default would switch on coordinate-descent tuning for the whole process (minutes of
    warm-up per compiled shape); the recipe owns the flags."""
    import torch._inductor.config as inductor
    before = (inductor.coordinate_descent_tuning, inductor.coordinate_descent_check_all_directions)
    quantize(copy.deepcopy(small_model()), QuantConfig(scheme))
    assert (inductor.coordinate_descent_tuning, inductor.coordinate_descent_check_all_directions) == before


def test_unknown_scheme():
    with pytest.raises(ValueError, match="quant: 'int4' is not one of"):
        QuantConfig("int4")

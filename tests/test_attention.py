"""Every attention backend this machine can run computes softmax(q k^T / sqrt(d)) v."""
import pytest
import torch

from compile.backends import register_optional_backends
from model.attention import available_backends, backend_fn, math_reference, set_backend


@pytest.mark.parametrize("name", ["sdpa", "flex", "math"])
@pytest.mark.parametrize("lq, lk", [(12, 12), (18, 72), (54, 72)])
def test_backend_equals_float64_attention(name, lq, lk):
    register_optional_backends()
    g = torch.Generator().manual_seed(lq + lk)
    q, k, v = (torch.randn(2, n, 2, 32, generator=g) for n in (lq, lk, lk))
    ref = torch.softmax(torch.einsum("bqhd,bkhd->bhqk", q.double(), k.double()) / 32 ** 0.5, -1)
    ref = torch.einsum("bhqk,bkhd->bqhd", ref, v.double())
    out = backend_fn(name)(q, k, v)
    assert out.shape == q.shape
    torch.testing.assert_close(out.double(), ref, atol=1e-5, rtol=1e-5)


def test_prefix_views_of_the_cache_are_accepted():
    """k, v are prefix slices of a [B, slots*T, H, D] cache: not contiguous over the batch."""
    cache = torch.randn(2, 72, 2, 32)
    q = torch.randn(2, 18, 2, 32)
    for name in ("sdpa", "flex"):
        torch.testing.assert_close(backend_fn(name)(q, cache[:, :36], cache[:, :36]),
                                   math_reference(q, cache[:, :36].contiguous(), cache[:, :36].contiguous()),
                                   atol=1e-5, rtol=1e-5)


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="unknown attention backend 'nope'"):
        set_backend("nope")
    assert "sdpa" in available_backends()


def test_backend_this_machine_cannot_run_is_refused_with_the_reason():
    from compile.backends import choose
    if torch.cuda.is_available():
        pytest.skip("the CPU message; a GPU may run every backend")
    for name in ("fa3", "fa3_fp8", "sdpa_cudnn"):
        with pytest.raises(ValueError, match=f"attention={name} cannot run here: it needs a CUDA GPU"):
            choose(name, torch.device("cpu"))


def test_fp8_per_head_scaling_round_trips():
    from compile.backends import FP8_MAX, fp8_per_head
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 50, 3, 16, generator=g) * torch.tensor([1e-3, 1.0, 40.0])[None, None, :, None]
    x8, scale = fp8_per_head(x)
    assert x8.dtype == torch.float8_e4m3fn and scale.shape == (2, 3)
    assert x8.float().abs().amax(dim=(1, 3)).allclose(torch.full((2, 3), FP8_MAX))   # each head uses the range
    back = x8.float() * scale[:, None, :, None]
    rel = (back - x).norm(dim=(1, 3)) / x.norm(dim=(1, 3))
    assert rel.max() < 0.04                       # e4m3: 3 mantissa bits, ~2-3% per element, per head alike

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

"""compile/xattn_kernel.py: the Triton attention kernel for short key sets (the cross-attention over the text rows).
On a CUDA GPU it is held to float32 softmax attention (model.attention.math_reference) at the model's layout,
including a query count that is no multiple of the tile, batch 2 and query rows that are views of a wider
projection, eager and inside torch.compile; on the CPU, `supports` refuses what the kernel cannot take."""
import pytest
import torch

from compile import xattn_kernel
from model.attention import math_reference

gpu = pytest.mark.skipif(not torch.cuda.is_available() or xattn_kernel.UNAVAILABLE is not None,
                         reason="needs a CUDA GPU and Triton")


def qkv(B, Lq, Lk, H=4, D=128, device="cuda", seed=0):
    g = torch.Generator(device=device).manual_seed(seed)
    return [torch.randn(B, n, H, D, device=device, generator=g).to(torch.bfloat16) for n in (Lq, Lk, Lk)]


def rel_l2(a, b):
    return ((a.float() - b.float()).norm() / b.float().norm()).item()


def test_supports_refuses_cpu_and_odd_key_counts():
    q, k, v = qkv(1, 8, 64, device="cpu")
    assert not xattn_kernel.supports(q, k, v)                  # CPU tensors
    if torch.cuda.is_available():
        q, k, v = qkv(1, 8, 60)
        assert not xattn_kernel.supports(q, k, v)              # 60 keys: not a multiple of BLOCK_N


@pytest.mark.cuda
@gpu
@pytest.mark.parametrize("B,Lq,Lk", [(1, 4680, 512), (2, 300, 128), (1, 1, 64)])
def test_matches_math_reference(B, Lq, Lk):
    q, k, v = qkv(B, Lq, Lk)
    assert xattn_kernel.supports(q, k, v)
    out = xattn_kernel.xattn(q, k, v)
    assert out.shape == q.shape and out.dtype == q.dtype
    assert rel_l2(out, math_reference(q, k, v)) < 6e-3       # BF16 rounding of P and of the output


@pytest.mark.cuda
@gpu
def test_views_of_a_projection_and_compiled():
    B, Lq, Lk, H, D = 2, 1000, 512, 4, 128
    g = torch.Generator(device="cuda").manual_seed(1)
    qx = torch.randn(B, Lq, 2 * H * D, device="cuda", generator=g).to(torch.bfloat16)
    q = qx[..., H * D:].unflatten(-1, (H, D))                 # rows 2 H D apart, heads contiguous
    _, k, v = qkv(B, 1, Lk, H, D, seed=2)
    ref = math_reference(q, k, v)
    assert rel_l2(xattn_kernel.xattn(q, k, v), ref) < 6e-3
    compiled = torch.compile(lambda a, b, c: xattn_kernel.xattn(a, b, c) * 2, fullgraph=True)
    assert rel_l2(compiled(q, k, v), 2 * ref) < 6e-3

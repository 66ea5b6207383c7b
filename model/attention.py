"""The one attention entry point of the model, and the registry that kernels plug into.

Every attention of the DiT (self over the cache window, cross over the text rows) calls
`attention(q, k, v)` with tensors of shape [B, L, H, D] (the layout of the KV cache and of the
flash-attn family), unmasked, scale 1/sqrt(D). Which kernel runs is a process-wide choice made once
(`set_backend`), so the model code never branches on it. Backends register with `register_backend`;
a backend is a function of (q, k, v) in that layout returning [B, Lq, H, D].
"""
from typing import Callable

import torch
import torch.nn.functional as F

AttentionFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

_BACKENDS: dict = {}
_active = "sdpa"


def register_backend(name: str, fn: AttentionFn) -> None:
    _BACKENDS[name] = fn


def available_backends() -> list:
    return sorted(_BACKENDS)


def set_backend(name: str) -> None:
    global _active
    if name not in _BACKENDS:
        raise ValueError(f"unknown attention backend {name!r}; available: {available_backends()}")
    _active = name


def get_backend() -> str:
    return _active


def backend_fn(name: str) -> AttentionFn:
    return _BACKENDS[name]


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T / sqrt(D)) v for q [B, Lq, H, D], k and v [B, Lk, H, D] -> [B, Lq, H, D]."""
    return _BACKENDS[_active](q, k, v)


def sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    # (B, L, H, D) -> (B, H, L, D) views; SDPA picks cuDNN / flash / efficient / math itself.
    out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
    return out.transpose(1, 2)


def math_reference(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Plain softmax attention in float32: the yardstick backends are checked against."""
    scores = torch.einsum("bqhd,bkhd->bhqk", q.float(), k.float()) * q.shape[-1] ** -0.5
    return torch.einsum("bhqk,bkhd->bqhd", scores.softmax(-1), v.float()).to(q.dtype)


register_backend("sdpa", sdpa)
register_backend("math", math_reference)

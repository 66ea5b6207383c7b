"""The causal Wan2.1 DiT (LongLive 1.0's `CausalWanModel`) in plain PyTorch.

Parameter names are those of the official Wan2.1 state dict (SPEC-wan section 2), so real weights
load without renaming. Numerics follow the reference in any dtype (SPEC-wan section 11): modulation,
gates and residuals in the parameter dtype; LayerNorm statistics and RMSNorm in float32; RoPE in
float32 (the reference uses float64; see rope.py); the timestep sinusoid in float64 (a [B*F, 256]
tensor, negligible). One call runs F latent frames of B samples through all layers, reading and
writing the self-attention cache through a plan made by the cache (kv_cache.py).
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from .attention import attention
from .config import ModelConfig
from .kv_cache import RingPlan
from .rope import Rope3D, apply_rope


def linear(module: nn.Linear, x):
    """module(x). x may instead be a (data, scale) pair, the activation already quantized row-wise to e4m3 for
    this Linear's FP8 GEMM (lever `ln` on the fp8dq_row path: the norm kernel writes it; lever `fp8_gelu`: the
    GELU kernel): data [..., in] float8_e4m3fn, scale [rows, 1] float32. The GEMM is then the one torchao's
    fp8dq_row Linear runs after quantizing its input, on the weights the recipe left in `module.fp8_in`
    (compile/fp8_kernel.fp8_weights)."""
    if isinstance(x, torch.Tensor):
        return module(x)
    data, scale = x
    w, w_scale, out_dtype, fast_accum = module.fp8_in
    y = torch._scaled_mm(data.reshape(-1, data.shape[-1]), w, scale_a=scale, scale_b=w_scale, bias=module.bias,
                         out_dtype=out_dtype, use_fast_accum=fast_accum)
    return y.view(*data.shape[:-1], y.shape[-1])


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype) * self.weight


class LayerNorm(nn.LayerNorm):
    """LayerNorm over the last dim; statistics in float32 inside the kernel, output in x's dtype."""

    def __init__(self, dim: int, eps: float, affine: bool = False):
        super().__init__(dim, eps=eps, elementwise_affine=affine)

    def forward(self, x):
        return super().forward(x).to(x.dtype)


class SelfAttention(nn.Module):
    # recipe levers set fused functions here (compile/kv_kernel.py): `kv_write` K-norm + RoPE + ring write,
    # `q_rope` Q-norm + RoPE
    kv_writer = None
    q_rope = None

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        dim = cfg.dim
        self.num_heads, self.head_dim = cfg.num_heads, cfg.head_dim
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim) for _ in range(4))
        self.norm_q = RMSNorm(dim, cfg.eps) if cfg.qk_norm else nn.Identity()
        self.norm_k = RMSNorm(dim, cfg.eps) if cfg.qk_norm else nn.Identity()

    def fuse_qkv(self) -> None:
        """Replace the q, k, v projections by one [dim -> 3 dim] Linear (their weights stacked): one GEMM
        reads the input once (a lever of the compile recipe; load checkpoints before fusing)."""
        q, k, v = self.q, self.k, self.v
        self.qkv = nn.Linear(q.in_features, 3 * q.out_features, device=q.weight.device, dtype=q.weight.dtype)
        with torch.no_grad():
            self.qkv.weight.copy_(torch.cat([q.weight, k.weight, v.weight]))
            self.qkv.bias.copy_(torch.cat([q.bias, k.bias, v.bias]))
        del self.q, self.k, self.v

    def project(self, x):
        if hasattr(self, "qkv"):
            return linear(self.qkv, x).chunk(3, dim=-1)
        return linear(self.q, x), linear(self.k, x), linear(self.v, x)

    def forward(self, x, rope_cos, rope_sin, cache_k, cache_v, plan, kv_only: bool = False):
        """With `kv_only`, only write this call's K/V into the cache and return None (a pass whose output
        nobody reads). x [B, L, C], or a quantized pair (see `linear`)."""
        q, k, v = self.project(x)
        b, s = q.shape[:2]
        if self.kv_writer is not None and isinstance(plan, RingPlan):
            keys, values = self.kv_writer(k, v, self.norm_k, rope_cos, rope_sin, plan, cache_k, cache_v)
        else:
            k = apply_rope(self.norm_k(k).view(b, s, self.num_heads, self.head_dim), rope_cos, rope_sin)
            v = v.view(b, s, self.num_heads, self.head_dim)
            keys, values = plan.write_and_read(cache_k, cache_v, k, v)
        if kv_only:
            return None
        if self.q_rope is not None:
            q = self.q_rope(q, self.norm_q, rope_cos, rope_sin).view(b, s, self.num_heads, self.head_dim)
        else:
            q = apply_rope(self.norm_q(q).view(b, s, self.num_heads, self.head_dim), rope_cos, rope_sin)  # (B, L, H, D)
        return self.o(attention(q, keys, values).flatten(2))


class CrossAttention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        dim = cfg.dim
        self.num_heads, self.head_dim = cfg.num_heads, cfg.head_dim
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim) for _ in range(4))
        self.norm_q = RMSNorm(dim, cfg.eps) if cfg.qk_norm else nn.Identity()
        self.norm_k = RMSNorm(dim, cfg.eps) if cfg.qk_norm else nn.Identity()

    def kv(self, context):
        """K, V [B, text_len, H, D] of the embedded text rows: computed once per prompt."""
        b = context.shape[0]
        k = self.norm_k(self.k(context)).view(b, -1, self.num_heads, self.head_dim)
        v = self.v(context).view(b, -1, self.num_heads, self.head_dim)
        return k, v

    def forward(self, x, k, v):
        q = self.norm_q(linear(self.q, x))
        q = q.view(q.shape[0], -1, self.num_heads, self.head_dim)
        return self.o(attention(q, k, v).flatten(2))


class FeedForward(nn.Sequential):
    """Linear -> GELU (tanh) -> Linear, state-dict names ffn.0 and ffn.2. With `gelu_epilogue` (a lever
    of the compile recipe, CUDA only) the first Linear's bias and the GELU run in the GEMM's epilogue
    (`torch._addmm_activation`, cuBLASLt GELU_BIAS), so the [L, ffn_dim] hidden is written once instead
    of written, read and written again by a separate GELU kernel."""
    gelu_epilogue = False
    fp8_gelu = None         # lever fp8_gelu (compile/fp8_kernel.py): fn(ffn, x), with `fp8_in` set on ffn[2]

    def __init__(self, dim: int, ffn_dim: int):
        super().__init__(nn.Linear(dim, ffn_dim), nn.GELU(approximate="tanh"), nn.Linear(ffn_dim, dim))

    def forward(self, x):
        if self.fp8_gelu is not None:
            return self.fp8_gelu(self, x)
        if not self.gelu_epilogue:
            return self[2](self[1](linear(self[0], x)))
        up = self[0]
        h = torch._addmm_activation(up.bias, x.reshape(-1, x.shape[-1]), up.weight.t(), use_gelu=True)
        return self[2](h.view(*x.shape[:-1], h.shape[-1]))


class AttentionBlock(nn.Module):
    # lever `ln` (compile/norm_kernel.py): fn(x, y, gate, norm, scale, shift, frames) -> (x + y * gate, the
    # normalised and modulated x), at the block's three LayerNorm sites; None: the code below
    add_norm = None
    # lever `mod`: the model passes this block's modulation rows (self.modulation + e0) instead of e0, computed
    # for all blocks at once (CausalWanModel.forward); False: the block adds its own
    premodulated = False

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        dim = cfg.dim
        self.norm1 = LayerNorm(dim, cfg.eps)
        self.self_attn = SelfAttention(cfg)
        self.norm3 = LayerNorm(dim, cfg.eps, affine=True) if cfg.cross_attn_norm else nn.Identity()
        self.cross_attn = CrossAttention(cfg)
        self.norm2 = LayerNorm(dim, cfg.eps)
        self.ffn = FeedForward(dim, cfg.ffn_dim)
        self.modulation = nn.Parameter(torch.zeros(1, 6, dim))

    def forward(self, x, e0, rope_cos, rope_sin, cross_k, cross_v, cache_k, cache_v, plan, kv_only: bool = False):
        """x [B, L, C], L = F * T tokens; e0 [B, F, 6, C] per-frame modulation (with `premodulated`, already
        plus this block's own); cache_k, cache_v this layer's self-attention cache, written in place as `plan`
        says. With `kv_only` the block only writes its K/V and returns x unchanged (the last layer of a pass
        whose output is not read)."""
        b, L, c = x.shape
        f = e0.shape[1]
        m = (e0 if self.premodulated else self.modulation.unsqueeze(1) + e0).unsqueeze(3)   # (B, F, 6, 1, C)
        shift_sa, scale_sa, gate_sa, shift_ff, scale_ff, gate_ff = m.unbind(2)

        def per_frame(t):                                           # (B, L, C) -> (B, F, T, C)
            return t.view(b, f, L // f, c)

        if self.add_norm is not None:
            return self.forward_add_norm(x, f, shift_sa, scale_sa, gate_sa, shift_ff, scale_ff, gate_ff, rope_cos,
                                         rope_sin, cross_k, cross_v, cache_k, cache_v, plan, kv_only)
        h = (per_frame(self.norm1(x)) * (1 + scale_sa) + shift_sa).view(b, L, c)
        y = self.self_attn(h, rope_cos, rope_sin, cache_k, cache_v, plan, kv_only)
        if kv_only:
            return x
        x = x + (per_frame(y) * gate_sa).view(b, L, c)
        x = x + self.cross_attn(self.norm3(x), cross_k, cross_v)
        y = self.ffn((per_frame(self.norm2(x)) * (1 + scale_ff) + shift_ff).view(b, L, c))
        return x + (per_frame(y) * gate_ff).view(b, L, c)

    def forward_add_norm(self, x, f, shift_sa, scale_sa, gate_sa, shift_ff, scale_ff, gate_ff, rope_cos, rope_sin,
                         cross_k, cross_v, cache_k, cache_v, plan, kv_only):
        """forward with `add_norm` at the three LayerNorm sites (each residual add feeding a norm joins it)."""
        b, L, c = x.shape
        _, h = self.add_norm(x, None, None, self.norm1, scale_sa, shift_sa, f)
        y = self.self_attn(h, rope_cos, rope_sin, cache_k, cache_v, plan, kv_only)
        if kv_only:
            return x
        x, h = self.add_norm(x, y, gate_sa, self.norm3, None, None, f)
        x, h = self.add_norm(x, self.cross_attn(h, cross_k, cross_v), None, self.norm2, scale_ff, shift_ff, f)
        y = self.ffn(h)
        return x + (y.view(b, f, L // f, c) * gate_ff).view(b, L, c)


class Head(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.norm = LayerNorm(cfg.dim, cfg.eps)
        self.head = nn.Linear(cfg.dim, math.prod(cfg.patch_size) * cfg.out_dim)
        self.modulation = nn.Parameter(torch.zeros(1, 2, cfg.dim))

    def forward(self, x, e):
        """x [B, L, C], e [B, F, C] -> [B, F, T, prod(patch) * out_dim]."""
        b, L, c = x.shape
        f = e.shape[1]
        shift, scale = (self.modulation.unsqueeze(1) + e.unsqueeze(2)).unsqueeze(3).unbind(2)
        return self.head(self.norm(x).view(b, f, L // f, c) * (1 + scale) + shift)


def timestep_sinusoid(t: torch.Tensor, dim: int) -> torch.Tensor:
    """[N] timesteps -> [N, dim] = [cos(t w) | sin(t w)], w_k = 10000^(-k / (dim/2)); float64 as in Wan."""
    half = dim // 2
    w = torch.pow(10000.0, -torch.arange(half, device=t.device, dtype=torch.float64) / half)
    arg = t.to(torch.float64)[:, None] * w
    return torch.cat([arg.cos(), arg.sin()], dim=1)


class CausalWanModel(nn.Module):
    """Flow prediction of F latent frames given the cached past: see `forward`."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        dim = cfg.dim
        self.patch_embedding = nn.Conv3d(cfg.in_dim, dim, kernel_size=cfg.patch_size, stride=cfg.patch_size)
        self.text_embedding = nn.Sequential(nn.Linear(cfg.text_dim, dim), nn.GELU(approximate="tanh"),
                                            nn.Linear(dim, dim))
        self.time_embedding = nn.Sequential(nn.Linear(cfg.freq_dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.time_projection = nn.Sequential(nn.SiLU(), nn.Linear(dim, dim * 6))
        self.blocks = nn.ModuleList(AttentionBlock(cfg) for _ in range(cfg.num_layers))
        self.head = Head(cfg)
        self.rope = Rope3D(cfg.head_dim, cfg.rope_max_frames)

    @property
    def dtype(self):
        return self.patch_embedding.weight.dtype

    def init_random(self, generator: torch.Generator = None, std_scale: float = 1.0) -> "CausalWanModel":
        """Random weights for tests and benchmarks: N(0, 1/fan_in) matrices, small modulations and biases,
        norm weights near 1. Drawn in float32 from `generator` on its device (a CPU generator: the CPU; the same
        seed gives other weights on a CUDA generator), then cast to the model's dtype."""
        device = generator.device if generator is not None else "cpu"
        for name, p in self.named_parameters():
            w = torch.randn(p.shape, generator=generator, device=device)
            if name.endswith("modulation"):
                w = w * 0.1
            elif p.ndim >= 2:
                w = w * (std_scale / p[0].numel() ** 0.5)     # 1 / sqrt(fan_in)
            elif "norm" in name:
                w = 1 + 0.1 * w
            else:
                w = 0.02 * w
            with torch.no_grad():
                p.copy_(w)
        return self

    def embed_text(self, context: torch.Tensor) -> torch.Tensor:
        """Text-encoder rows [B, text_len, text_dim] -> [B, text_len, dim]."""
        return self.text_embedding(context.to(self.dtype))

    @torch.no_grad()
    def encode_prompt(self, context: torch.Tensor, cross_cache, sample_mask: torch.Tensor = None) -> None:
        """Fill the cross-attention cache from prompt embeddings [B, text_len, text_dim] (once per prompt).
        With `sample_mask` [B] bool, only those samples' entries are replaced."""
        ctx = self.embed_text(context)
        for i, block in enumerate(self.blocks):
            k, v = block.cross_attn.kv(ctx)
            if sample_mask is not None:
                keep = ~sample_mask[:, None, None, None]
                k = torch.where(keep, cross_cache.k[i], k)
                v = torch.where(keep, cross_cache.v[i], v)
            cross_cache.k[i].copy_(k)
            cross_cache.v[i].copy_(v)

    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        """[B, F, C, H, W] latents -> [B, F*h*w, dim] tokens (the Conv3d with kernel = stride as a Linear)."""
        b, f, c, H, W = x.shape
        ph, pw = self.cfg.patch_size[1:]
        h, w = H // ph, W // pw
        x = x.view(b, f, c, h, ph, w, pw).permute(0, 1, 3, 5, 2, 4, 6)   # (B, F, h, w, C, ph, pw)
        x = x.reshape(b, f * h * w, c * ph * pw)
        return F.linear(x, self.patch_embedding.weight.flatten(1), self.patch_embedding.bias)

    def unpatchify(self, y: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """[B, F, h*w, ph*pw*C] -> [B, F, C, h*ph, w*pw]; channel index (ph, pw, c)."""
        b, f = y.shape[:2]
        ph, pw = self.cfg.patch_size[1:]
        c = self.cfg.out_dim
        y = y.view(b, f, h, w, ph, pw, c).permute(0, 1, 6, 2, 4, 3, 5)    # (B, F, C, h, ph, w, pw)
        return y.reshape(b, f, c, h * ph, w * pw)

    def time_modulation(self, t: torch.Tensor):
        """t [B, F] -> e [B, F, C] (head) and e0 [B, F, 6, C] (blocks)."""
        b, f = t.shape
        e = self.time_embedding(timestep_sinusoid(t.flatten(), self.cfg.freq_dim).to(self.dtype))
        e0 = self.time_projection(e).view(b, f, 6, self.cfg.dim)
        return e.view(b, f, self.cfg.dim), e0

    def forward(self, x: torch.Tensor, t: torch.Tensor, cross_cache, cache, plan, kv_only: bool = False):
        """Flow prediction v [B, F, C, H, W] for latents x [B, F, C, H, W] at timesteps t [B, F].

        `plan` (from `cache.plan_block` / `plan_recache`) says where the frames sit (RoPE positions)
        and where their K/V go; every layer writes its cache and attends to the planned keys.
        `kv_only`: the call is run for its cache writes alone (the clean-context and re-cache passes);
        the last layer stops after writing its K/V, the head is skipped, and None is returned. The cache
        is exactly what the full call writes (the last layer's attention, cross-attention and FFN feed
        only the output)."""
        b, f, _, H, W = x.shape
        h, w = H // self.cfg.patch_size[1], W // self.cfg.patch_size[2]
        e, e0 = self.time_modulation(t)
        rope_cos, rope_sin = self.rope.tables(plan.frame_pos, h, w)
        hidden = self.patchify(x.to(self.dtype))
        last = len(self.blocks) - 1
        mods = None
        if self.blocks[0].premodulated:     # lever mod: every block's rows in one op, not 5 tiny kernels a block
            mods = torch.stack([blk.modulation for blk in self.blocks]).unsqueeze(2) + e0     # (layers, B, F, 6, C)
        for i, block in enumerate(self.blocks):
            hidden = block(hidden, e0 if mods is None else mods[i], rope_cos, rope_sin, cross_cache.k[i],
                           cross_cache.v[i], cache.k[i], cache.v[i], plan, kv_only and i == last)
        cache.commit(plan)
        if kv_only:
            return None
        return self.unpatchify(self.head(hidden, e), h, w)

"""One Triton kernel for the self-attention K/V cache write: K's RMSNorm, K's RoPE, and both rows stored
into their ring slots (the recipe lever `kv_write`, CUDA only); the same kernel without the scatter for
Q's RMSNorm + RoPE (lever `q_rope`).

Why: the block profile (BENCHMARKS.md, kernel appendix) showed Inductor's fused kernel for exactly this
work at ~81 us per layer call on the H100: ~60 MB moved (K and V rows read, both written to their ring
slots at a row index loaded from `write_idx`) at ~0.74 TB/s. Here a program handles ROWS tokens: it loads
each row whole, splits it into its (even, odd) pairs in registers, normalizes, rotates, and stores the row
contiguously at its slot; then copies V's row.
Measured on the H100 (benchmarks/norm_rope_bench.py, CUDA-graph replays): K + V 22.6 us a layer call (2.5 TB/s)
against Inductor's 40.1 (its first version, which loaded the pairs at stride 2, took 28.7 us in the block
profile: 1.012x end to end over Inductor's); Q (`q_rope`) 8.4 us against Inductor's 26.8 (3.4 TB/s).

Numerics follow the model (wan.RMSNorm, rope.apply_rope): the norm in float32, rounded to BF16, times
the weight, rounded; the rotation in float32 with the float32 tables, rounded. Only the order of the sum
of squares differs. Samples outside a re-cache's `write_mask` are skipped (the plain path rewrites their
old values, the same result).

The kernel is registered with `torch.library.triton_op`, so torch.compile sees it as the Triton kernel it
is (no graph break, mutations of the cache tracked) and CUDA graphs capture it like any kernel.
"""
import torch

try:
    import triton
    import triton.language as tl
    from torch.library import triton_op, wrap_triton
except ImportError:             # the CPU wheels of torch come without Triton: the lever is then unavailable
    triton = None

UNAVAILABLE = None if triton is not None else "Triton is not installed (CPU-only torch)"
CONFIG = {"ROWS": 1, "num_warps": 4}        # tokens per program, warps: the fastest of benchmarks/norm_rope_bench.py


if triton is not None:
    @triton.jit
    def _norm_rope_kernel(x_ptr, v_ptr, w_ptr, cos_ptr, sin_ptr, idx_ptr, mask_ptr, out_ptr, vout_ptr,
                          N, L, S, SX, eps, DIM: tl.constexpr, HALF: tl.constexpr, PAIRS: tl.constexpr,
                          ROWS: tl.constexpr, HAS_MASK: tl.constexpr, HAS_IDX: tl.constexpr, COPY_V: tl.constexpr):
        """RMSNorm + RoPE of ROWS tokens' rows of x (N tokens of B samples, L each; rows SX elements apart, in x
        and v); token t's row is stored at row idx[t] of out (row t without HAS_IDX); with COPY_V, v's row is
        copied to the same row of vout. Rows are loaded whole (contiguous) and split into their (even, odd) pairs
        in registers."""
        g = tl.program_id(0) * ROWS + tl.arange(0, ROWS)      # the tokens of this program, samples flattened
        live = g < N
        b = g // L
        t = g % L
        if HAS_MASK:
            live = live & (tl.load(mask_ptr + b, mask=live, other=0) != 0)
        e = tl.arange(0, 2 * PAIRS)                 # element index within the row (padded to a power of 2)
        m2 = live[:, None] & (e < DIM)[None, :]
        src = g.to(tl.int64)[:, None] * SX + e[None, :]
        x = tl.load(x_ptr + src, mask=m2, other=0.0).to(tl.float32)
        rstd = tl.rsqrt(tl.sum(x * x, axis=1) / DIM + eps)
        w = tl.load(w_ptr + e, mask=e < DIM, other=0.0).to(tl.float32)
        y = ((x * rstd[:, None]).to(tl.bfloat16).to(tl.float32) * w[None, :]).to(tl.bfloat16).to(tl.float32)
        a, c = tl.split(tl.reshape(y, [ROWS, PAIRS, 2]))
        p = tl.arange(0, PAIRS)                     # pair index; its angle is p % HALF of the token's table row
        pm = live[:, None] & (p < DIM // 2)[None, :]
        j = t[:, None] * HALF + (p % HALF)[None, :]
        cs = tl.load(cos_ptr + j, mask=pm, other=0.0)
        sn = tl.load(sin_ptr + j, mask=pm, other=0.0)
        out = tl.reshape(tl.join(a * cs - c * sn, a * sn + c * cs), [ROWS, 2 * PAIRS]).to(tl.bfloat16)
        row = tl.load(idx_ptr + t, mask=live, other=0) if HAS_IDX else t
        dst = (b.to(tl.int64) * S + row)[:, None] * DIM + e[None, :]
        tl.store(out_ptr + dst, out, mask=m2)
        if COPY_V:
            v = tl.load(v_ptr + src, mask=m2)
            tl.store(vout_ptr + dst, v, mask=m2)

    @triton_op("longlive::norm_rope_write", mutates_args={"ck", "cv"})
    def norm_rope_write(k: torch.Tensor, v: torch.Tensor, weight: torch.Tensor, eps: float, cos: torch.Tensor,
                        sin: torch.Tensor, idx: torch.Tensor, mask: torch.Tensor, has_mask: bool,
                        ck: torch.Tensor, cv: torch.Tensor) -> None:
        """k, v [B, L, DIM] (projections: rows of DIM contiguous elements, the same row stride in both, samples
        L rows apart: contiguous, or chunks of the fused q, k, v projection); weight [DIM]; cos, sin [L, 1, HALF]
        float32; idx [L] cache token of each token; mask [B] (read when has_mask); ck, cv [B, S, H, D], written."""
        B, L, DIM = k.shape
        rows, warps = CONFIG["ROWS"], CONFIG["num_warps"]
        wrap_triton(_norm_rope_kernel)[(triton.cdiv(B * L, rows),)](
            k, v, weight, cos, sin, idx, mask, ck, cv, B * L, L, ck.shape[1], k.stride(1), eps, DIM=DIM,
            HALF=cos.shape[-1], PAIRS=triton.next_power_of_2(DIM // 2), ROWS=rows, HAS_MASK=has_mask, HAS_IDX=True,
            COPY_V=True, num_warps=warps)

    @triton_op("longlive::norm_rope", mutates_args={})
    def norm_rope(x: torch.Tensor, weight: torch.Tensor, eps: float, cos: torch.Tensor,
                  sin: torch.Tensor) -> torch.Tensor:
        """RMSNorm + RoPE of x [B, L, DIM] (contiguous) -> a new [B, L, DIM] tensor."""
        B, L, DIM = x.shape
        out = torch.empty_like(x)
        rows, warps = CONFIG["ROWS"], CONFIG["num_warps"]
        wrap_triton(_norm_rope_kernel)[(triton.cdiv(B * L, rows),)](
            x, x, weight, cos, sin, x, x, out, out, B * L, L, L, DIM, eps, DIM=DIM, HALF=cos.shape[-1],
            PAIRS=triton.next_power_of_2(DIM // 2), ROWS=rows, HAS_MASK=False, HAS_IDX=False, COPY_V=False,
            num_warps=warps)
        return out


def _rows(x):
    """x [B, L, DIM] as it is when its rows are DIM contiguous elements at one stride and its samples L rows
    apart (the lever qkv's chunks of the fused projection read in place), else a contiguous copy."""
    b, n, d = x.shape
    if x.stride(2) == 1 and x.stride(1) >= d and (b == 1 or x.stride(0) == n * x.stride(1)):
        return x
    return x.contiguous()


def fused_kv_write(k, v, norm, cos, sin, plan, ck, cv):
    """The `kv_write` lever's replacement of SelfAttention's K path: k, v [B, L, H*D] projections, `norm`
    the RMSNorm of K. Writes the ring slots `plan` names; returns the keys and values to attend to."""
    mask = plan.write_mask
    k, v = _rows(k), _rows(v)
    if k.stride(1) != v.stride(1):
        k, v = k.contiguous(), v.contiguous()
    norm_rope_write(k, v, norm.weight, norm.eps, cos, sin, plan.write_idx,
                    plan.write_idx if mask is None else mask, mask is not None, ck, cv)
    return ck[:, :plan.num_keys], cv[:, :plan.num_keys]


def fused_q_norm_rope(q, norm, cos, sin):
    """The `q_rope` lever's replacement of SelfAttention's Q path: q [B, L, H*D] projection -> RMSNorm +
    RoPE in one Triton kernel, [B, L, H*D]."""
    return norm_rope(q.contiguous(), norm.weight, norm.eps, cos, sin)

"""A Triton attention kernel for short key sets: the DiT's cross-attention over the 512 text rows (lever `xattn`,
CUDA only).

Why: FA3 runs the cross-attention (4680 queries x 512 keys, 12 heads of 128) at ~170 TFLOP/s, 87 us a call
(BENCHMARKS.md, FA3 with its keys split), 149 calls a block: ~4.3 ms per latent frame for 0.44 TFLOP a forward.
Each of its 444 CTAs walks only three 176-key tiles, so its fixed cost per CTA (~21 us of set-up and epilogue
in the fitted model of `compile/backends.fa3_num_splits`) dominates. Here one program takes BLOCK_M queries of
one head through all the keys with the online softmax, in a plain (not warp-specialized) Triton loop.

Numerics: the logits and the running max / sum in float32, P rounded to the input dtype for the second
product (as the flash kernels do), output rounded once. The key count must be a multiple of BLOCK_N.

Registered with `torch.library.triton_op`, so torch.compile sees the kernel (no graph break) and CUDA graphs
capture it.
"""
import torch

try:
    import triton
    import triton.language as tl
    from torch.library import triton_op, wrap_triton
except ImportError:             # the CPU wheels of torch come without Triton: the lever is then unavailable
    triton = None

UNAVAILABLE = None if triton is not None else "Triton is not installed (CPU-only torch)"
CONFIG = {"BLOCK_M": 128, "BLOCK_N": 64, "num_warps": 8, "num_stages": 2}   # set by the bench's pick


if triton is not None:
    @triton.jit
    def _xattn_kernel(q_ptr, k_ptr, v_ptr, o_ptr, Lq, H, sqb, sql, skb, skl, sob, sol, qk_scale,
                      LK: tl.constexpr, D: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
        """One program: BLOCK_M queries of head h of sample b against all LK keys of that head (rows of q, k, v, o
        have D contiguous elements per head, heads D apart)."""
        pid_m = tl.program_id(0)
        bh = tl.program_id(1)
        b = (bh // H).to(tl.int64)
        h = bh % H
        rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
        d = tl.arange(0, D)
        keys = tl.arange(0, BLOCK_N)
        rmask = rows[:, None] < Lq
        q = tl.load(q_ptr + b * sqb + rows[:, None].to(tl.int64) * sql + h * D + d[None, :], mask=rmask, other=0.0)
        m = tl.full([BLOCK_M], float("-inf"), tl.float32)
        s_sum = tl.zeros([BLOCK_M], tl.float32)
        acc = tl.zeros([BLOCK_M, D], tl.float32)
        kbase = k_ptr + b * skb + h * D
        vbase = v_ptr + b * skb + h * D
        for n in tl.static_range(0, LK, BLOCK_N):
            kt = tl.load(kbase + (n + keys)[None, :] * skl + d[:, None])            # [D, BLOCK_N]
            s = tl.dot(q, kt) * qk_scale                                           # log2 units
            m_new = tl.maximum(m, tl.max(s, 1))
            p = tl.math.exp2(s - m_new[:, None])
            alpha = tl.math.exp2(m - m_new)
            s_sum = s_sum * alpha + tl.sum(p, 1)
            vt = tl.load(vbase + (n + keys)[:, None] * skl + d[None, :])            # [BLOCK_N, D]
            acc = acc * alpha[:, None] + tl.dot(p.to(vt.dtype), vt)
            m = m_new
        out = acc / s_sum[:, None]
        tl.store(o_ptr + b * sob + rows[:, None].to(tl.int64) * sol + h * D + d[None, :],
                 out.to(o_ptr.dtype.element_ty), mask=rmask)

    @triton_op("longlive::xattn", mutates_args=())
    def xattn(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """softmax(q k^T / sqrt(D)) v for q [B, Lq, H, D], k and v [B, Lk, H, D] (each row's heads contiguous,
        k and v with the same strides) -> [B, Lq, H, D]."""
        B, Lq, H, D = q.shape
        out = torch.empty(B, Lq, H, D, dtype=q.dtype, device=q.device)
        cfg = CONFIG
        grid = (triton.cdiv(Lq, cfg["BLOCK_M"]), B * H)
        wrap_triton(_xattn_kernel)[grid](
            q, k, v, out, Lq, H, q.stride(0), q.stride(1), k.stride(0), k.stride(1), out.stride(0), out.stride(1),
            D ** -0.5 * 1.4426950408889634, LK=k.shape[1], D=D, BLOCK_M=cfg["BLOCK_M"], BLOCK_N=cfg["BLOCK_N"],
            num_warps=cfg["num_warps"], num_stages=cfg["num_stages"])
        return out


def supports(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> bool:
    """Whether `xattn` takes these tensors: CUDA, 16-bit, head dims contiguous, keys a multiple of BLOCK_N."""
    return (triton is not None and q.is_cuda and q.dtype in (torch.bfloat16, torch.float16)
            and k.shape[1] % CONFIG["BLOCK_N"] == 0 and q.stride(-1) == 1 and k.stride(-1) == 1
            and k.stride() == v.stride() and q.stride(2) == q.shape[3] and k.stride(2) == k.shape[3])

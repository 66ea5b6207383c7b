"""One Triton kernel for the FFN's GELU and the row-wise FP8 quantization of its output (the recipe lever
`fp8_gelu`, quant=fp8dq_row, CUDA only), and the down projection's FP8 GEMM on what it writes.

Why: on the FP8 path torchao quantizes every GEMM input on the fly (row amax, scale, cast); Inductor fuses the
FFN's GELU into the quantization of the 8960-wide hidden, and that kernel was the costliest of the FP8 block
profile (BENCHMARKS.md, kernel appendix: 156 us a layer call, ~1.3 TB/s for 84 MB read and 42 MB written).
Raising Inductor's persistent-reduction limit to cover the row (lever persist16384) made it slower. Here one
program holds one row in registers: it reads the row once, applies the GELU, takes the row's amax, and writes
the FP8 row and its scale. A first version held the row in one block of 16384 lanes (45% of them masked, 16
warps, likely one program per SM for its registers): 190 us a call on the H100, slower than Inductor's; this one
holds 8192 + 1024 lanes: 125 us against Inductor's 188 for the same math alone, the FP8 DiT 82.0 -> 78.9 ms per
latent frame (BENCHMARKS.md, FP8 section; OPTIMIZATION_LOG.md row 39). At 1.0 TB/s it is not memory-bound; its
arithmetic per element (a tanh and a division) is the likely limit (not profiled).

Numerics follow torchao's eager path (quant_primitives._choose_scale_float8 and _quantize_affine_float8, on the
output of nn.GELU(approximate="tanh") in BF16): the GELU in float32 rounded to BF16; amax of those values; the
scale amax / 448 rounded to BF16 (torchao divides a BF16 tensor), then float32; the row divided by the scale,
clamped to +-448 and rounded to e4m3. One deviation: a row of zeros gets scale 1 (torchao divides by 0).
"""
import torch

from model.wan import linear

from .backends import FP8_MAX   # 448, the largest finite float8_e4m3fn

try:
    import triton
    import triton.language as tl
    from torch._inductor.runtime.triton_helpers import libdevice
    from torch.library import triton_op, wrap_triton
except ImportError:             # the CPU wheels of torch come without Triton: the lever is then unavailable
    triton = None

UNAVAILABLE = None if triton is not None else "Triton is not installed (CPU-only torch)"


if triton is not None:
    @triton.jit
    def _gelu_q(x_ptr, m):
        x = tl.load(x_ptr, mask=m, other=0.0).to(tl.float32)
        # tanh GELU: 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))), tanh from libdevice as Inductor's
        u = 0.7978845608028654 * (x + 0.044715 * x * x * x)
        return (0.5 * x * (1.0 + libdevice.tanh(u))).to(tl.bfloat16).to(tl.float32)

    @triton.jit
    def _to_fp8(g, scale, FMAX: tl.constexpr):
        return tl.minimum(tl.maximum(g / scale, -FMAX), FMAX).to(tl.float8e4nv)

    @triton.jit
    def _gelu_fp8_rows_kernel(h_ptr, q_ptr, s_ptr, N, A: tl.constexpr, B: tl.constexpr, FMAX: tl.constexpr):
        """One row of N = A + (at most B) elements in registers: a power-of-2 part A and a masked tail B (for
        8960: 8192 + 1024, 3% idle lanes instead of 45% in one block of 16384)."""
        base = tl.program_id(0).to(tl.int64) * N
        ca = tl.arange(0, A)
        ga = _gelu_q(h_ptr + base + ca, ca < N)
        amax = tl.max(tl.abs(ga), axis=0)
        if B > 0:
            cb = A + tl.arange(0, B)
            mb = cb < N
            gb = _gelu_q(h_ptr + base + cb, mb)
            amax = tl.maximum(amax, tl.max(tl.where(mb, tl.abs(gb), 0.0), axis=0))
        scale = (amax / FMAX).to(tl.bfloat16).to(tl.float32)
        scale = tl.where(scale == 0.0, 1.0, scale)
        tl.store(q_ptr + base + ca, _to_fp8(ga, scale, FMAX), mask=ca < N)
        if B > 0:
            tl.store(q_ptr + base + cb, _to_fp8(gb, scale, FMAX), mask=mb)
        tl.store(s_ptr + tl.program_id(0), scale)

    @triton_op("longlive::gelu_fp8_rows", mutates_args={})
    def gelu_fp8_rows(h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """h [M, N] BF16, contiguous -> (GELU(h) quantized to e4m3 [M, N], its float32 row scales [M, 1])."""
        M, N = h.shape
        q = torch.empty((M, N), dtype=torch.float8_e4m3fn, device=h.device)
        s = torch.empty((M, 1), dtype=torch.float32, device=h.device)
        a = 1 << (N.bit_length() - 1)                  # the largest power of 2 <= N
        b = triton.next_power_of_2(N - a) if N > a else 0
        wrap_triton(_gelu_fp8_rows_kernel)[(M,)](h, q, s, N, A=a, B=b, FMAX=FP8_MAX,
                                                 num_warps=16 if a >= 8192 else 8 if a >= 2048 else 4)
        return q, s


def quantize_rows_reference(g: torch.Tensor):
    """torchao's eager row-wise e4m3 quantization of a BF16 activation g [..., N] (its
    _choose_scale_float8 + _quantize_affine_float8 with a block of one row), in plain torch, for tests:
    (data [..., N] e4m3, float32 scales [rows, 1]); a row of zeros gets scale 1."""
    scale = (g.abs().amax(dim=-1, keepdim=True) / FP8_MAX).float()
    scale = torch.where(scale == 0, torch.ones_like(scale), scale)
    q = (g.float() / scale).clamp(-FP8_MAX, FP8_MAX).to(torch.float8_e4m3fn)
    return q, scale.reshape(-1, 1)


def gelu_fp8_rows_reference(h: torch.Tensor):
    """The same as gelu_fp8_rows in plain torch, as torchao's eager path computes it (for tests)."""
    return quantize_rows_reference(torch.nn.functional.gelu(h, approximate="tanh"))


def is_fp8(linear) -> bool:
    """Whether torchao quantized this Linear's weights to FP8 (a tensor with `qdata`: what fp8_weights reads)."""
    return hasattr(linear.weight, "qdata")


def fp8_weights(linear) -> tuple:
    """The FP8 data [in, out] (a column-major view, as torch._scaled_mm wants it) and float32 column scales
    [1, out] of a Linear that torchao's fp8dq_row scheme quantized, its output dtype (the weight's high-precision
    dtype), and whether torchao accumulates fast: what `model.wan.linear` needs (as `linear.fp8_in`) to run the
    Linear on an activation quantized beforehand."""
    w = linear.weight
    return w.qdata.t(), w.scale.reshape(1, -1).float(), w.dtype, bool(w.mm_config.use_fast_accum)


def gelu_fp8_ffn(ffn, x):
    """`FeedForward` with lever fp8_gelu: the up projection as torchao runs it (or on x quantized beforehand,
    lever ln), then this module's kernel, then the down projection's FP8 GEMM on the kernel's output (the call
    torchao makes, bias included; `ffn[2].fp8_in` = fp8_weights(ffn[2]))."""
    h = linear(ffn[0], x)
    q, s = gelu_fp8_rows(h.reshape(-1, h.shape[-1]))
    return linear(ffn[2], (q.view(h.shape), s))

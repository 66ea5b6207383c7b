"""One Triton kernel for a DiT block's residual add + LayerNorm + modulation (the recipe lever `ln`, CUDA only).

Why: the block profile (BENCHMARKS.md, kernel appendix) shows Inductor's kernels for the three LayerNorm sites
of a layer call (norm1 + modulation; the gated self-attention residual + norm3; the cross-attention residual +
norm2 + modulation) at 25-28 us each on the H100, looped reductions (rows of 1536 are above Inductor's
persistent threshold) at 1-2 TB/s. They move 29, 58 and 58 MB: ~10, 20 and 20 us at 3 TB/s. Here one program
takes one token's row: loads x (and the branch y, times the gate), stores the new residual stream, and
normalises the row held in registers: one read of each input, one write of each output.

What it computes, per token row (`add_norm_reference` is the same in plain torch, the block's own code):
    x' = x + y * gate          (y, gate optional; gate per sample and frame, [B, F, C])
    n  = LayerNorm(x')          (float32 statistics; the row rounded to the activation dtype first, as the
                                 block reads it; `norm`'s weight and bias when it has them)
    out = n * (1 + scale) + shift  (scale, shift per sample and frame, optional)
returning (x', out). The arithmetic is float32 with one rounding per output (eager rounds after each op:
the difference is BF16 rounding, as for Inductor's fused kernels).

Registered as opaque custom ops (`longlive::ln_mod`, `longlive::add_ln_mod`): torch.compile calls them as they
are, and the kernel is compiled and cached by Triton's launcher, as the VAE's norm kernel. Measured on the H100
(OPTIMIZATION_LOG.md rows 44, 47): 1.011x in the whole run (84.2 vs 85.1 ms per latent frame), a default of the
compiled choices.

With quant=fp8dq_row (`add_norm_fp8`, ops `longlive::ln_mod_fp8`, `longlive::add_ln_mod_fp8`) the output row,
rounded to x's dtype as above, is quantized in the same program as torchao's fp8dq_row quantizes a Linear's input
(scale = amax / 448 rounded to x's dtype, e4m3 = row / scale clamped to +-448): the (data, scales) pair goes to the
next Linears' FP8 GEMMs (model.wan.linear) instead of Inductor's norm kernels with torchao's quantization fused:
14-21 vs 31-33 us a site alone, 1.024-1.027x on the FP8 DiT (row 57). Other quantized models keep Inductor's
kernels.

The kernels are cached by Triton under a key that holds the ptxas version: `recipe.pin_triton_ptxas` keeps one
ptxas per process, or a warm start compiles them again (row 46).
"""
import torch

from .backends import FP8_MAX   # 448, the largest finite float8_e4m3fn

try:
    import triton
    import triton.language as tl
except ImportError:             # the CPU wheels of torch come without Triton: the lever is then unavailable
    triton = None

UNAVAILABLE = None if triton is not None else "Triton is not installed (CPU-only torch)"


def add_norm_reference(x, y, gate, norm, scale, shift, frames: int):
    """The block's own code for one site: x [B, L, C], y [B, L, C] or None, gate / scale / shift [B, F, 1, C]
    or None (per sample and frame), norm a LayerNorm module, frames F. Returns (x + y * gate, the normalised
    and modulated row)."""
    b, L, c = x.shape

    def per_frame(t):
        return t.view(b, frames, L // frames, c)

    if y is not None:
        x = x + (y if gate is None else (per_frame(y) * gate).view(b, L, c))
    n = norm(x)
    if scale is not None:
        n = (per_frame(n) * (1 + scale) + shift).view(b, L, c)
    return x, n


if triton is not None:
    @triton.jit
    def _add_ln_mod_kernel(x_ptr, y_ptr, gate_ptr, w_ptr, b_ptr, scale_ptr, shift_ptr, xo_ptr, out_ptr, rs_ptr,
                           T, FR, gate_stride, scale_stride, shift_stride, eps, C: tl.constexpr,
                           BLOCK: tl.constexpr, HAS_Y: tl.constexpr, HAS_GATE: tl.constexpr,
                           AFFINE: tl.constexpr, MOD: tl.constexpr, FP8: tl.constexpr, FMAX: tl.constexpr):
        """One token row of C elements per program; T tokens per frame, FR frames per sample; the per-frame
        vectors (gate, scale, shift) are rows of [B * FR, C] tensors with the given row strides. With FP8 the
        output row (rounded to x's dtype) is quantized to e4m3 by its amax as torchao's fp8dq_row does, its
        float32 scale stored at rs_ptr[row]."""
        act = x_ptr.dtype.element_ty
        row = tl.program_id(0)
        bf = (row // (T * FR)) * FR + (row % (T * FR)) // T        # sample * FR + frame
        c = tl.arange(0, BLOCK)
        cm = c < C
        off = row.to(tl.int64) * C + c
        x = tl.load(x_ptr + off, mask=cm, other=0.0).to(tl.float32)
        if HAS_Y:
            y = tl.load(y_ptr + off, mask=cm, other=0.0).to(tl.float32)
            if HAS_GATE:
                y = y * tl.load(gate_ptr + bf * gate_stride + c, mask=cm, other=0.0).to(tl.float32)
            xr = (x + y).to(act)
            tl.store(xo_ptr + off, xr, mask=cm)
            x = xr.to(tl.float32)
        mean = tl.sum(x, axis=0) / C
        d = tl.where(cm, x - mean, 0.0)
        n = d * tl.rsqrt(tl.sum(d * d, axis=0) / C + eps.to(tl.float32))
        if AFFINE:
            n = n * tl.load(w_ptr + c, mask=cm, other=0.0).to(tl.float32) \
                + tl.load(b_ptr + c, mask=cm, other=0.0).to(tl.float32)
        if MOD:
            s = tl.load(scale_ptr + bf * scale_stride + c, mask=cm, other=0.0).to(tl.float32)
            t = tl.load(shift_ptr + bf * shift_stride + c, mask=cm, other=0.0).to(tl.float32)
            n = n.to(act).to(tl.float32) * (1.0 + s) + t
        if FP8:
            o = n.to(act).to(tl.float32)
            amax = tl.max(tl.where(cm, tl.abs(o), 0.0), axis=0)
            rs = (amax / FMAX).to(act).to(tl.float32)            # torchao: amax / 448 in x's dtype
            rs = tl.where(rs == 0.0, 1.0, rs)
            q = tl.minimum(tl.maximum(o / rs, -FMAX), FMAX)
            tl.store(out_ptr + off, q.to(out_ptr.dtype.element_ty), mask=cm)
            tl.store(rs_ptr + row, rs)
        else:
            tl.store(out_ptr + off, n.to(act), mask=cm)

    def _rows(t, bf, c):
        """A [B, F, 1, C] per-frame vector as rows [B * F, C] with unit column stride, and its row stride."""
        if t is None:
            return None, 0
        t = t.reshape(bf, c)
        if t.stride(1) != 1:
            t = t.contiguous()
        return t, t.stride(0)

    def _launch(x, y, gate, weight, bias, scale, shift, eps, frames, xo, fp8=False):
        """The kernel's output [B, L, C] in x's dtype, or with fp8 (e4m3 [B, L, C], float32 scales [B * L, 1])."""
        b, L, c = x.shape
        out = torch.empty_like(x, dtype=torch.float8_e4m3fn if fp8 else x.dtype)
        row_scales = torch.empty((b * L, 1), dtype=torch.float32, device=x.device) if fp8 else None
        gate, gs = _rows(gate, b * frames, c)
        scale, ss = _rows(scale, b * frames, c)
        shift, hs = _rows(shift, b * frames, c)
        dummy = x
        _add_ln_mod_kernel[(b * L,)](
            x, y if y is not None else dummy, gate if gate is not None else dummy,
            weight if weight is not None else dummy, bias if bias is not None else dummy,
            scale if scale is not None else dummy, shift if shift is not None else dummy,
            xo if xo is not None else dummy, out, row_scales if fp8 else dummy, L // frames, frames, gs, ss, hs, eps,
            C=c, BLOCK=triton.next_power_of_2(c), HAS_Y=y is not None, HAS_GATE=gate is not None,
            AFFINE=weight is not None, MOD=scale is not None, FP8=fp8, FMAX=FP8_MAX, num_warps=4)
        return (out, row_scales) if fp8 else out

    @torch.library.custom_op("longlive::ln_mod", mutates_args=())
    def ln_mod(x: torch.Tensor, weight: torch.Tensor | None, bias: torch.Tensor | None,
               scale: torch.Tensor | None, shift: torch.Tensor | None, eps: float, frames: int) -> torch.Tensor:
        """LayerNorm (+ affine) + modulation of x [B, L, C] contiguous (no residual add)."""
        return _launch(x, None, None, weight, bias, scale, shift, eps, frames, None)

    @ln_mod.register_fake
    def _(x, weight, bias, scale, shift, eps, frames):
        return torch.empty_like(x)

    @torch.library.custom_op("longlive::add_ln_mod", mutates_args=())
    def add_ln_mod(x: torch.Tensor, y: torch.Tensor, gate: torch.Tensor | None, weight: torch.Tensor | None,
                   bias: torch.Tensor | None, scale: torch.Tensor | None, shift: torch.Tensor | None, eps: float,
                   frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        """x + y (* gate), then ln_mod of it; returns both."""
        xo = torch.empty_like(x)
        return xo, _launch(x, y, gate, weight, bias, scale, shift, eps, frames, xo)

    @add_ln_mod.register_fake
    def _(x, y, gate, weight, bias, scale, shift, eps, frames):
        return torch.empty_like(x), torch.empty_like(x)

    def _fp8_like(x):
        """The fakes' (e4m3 rows, float32 scales [B * L, 1]) for x [B, L, C]."""
        return (torch.empty_like(x, dtype=torch.float8_e4m3fn),
                x.new_empty((x.shape[0] * x.shape[1], 1), dtype=torch.float32))

    @torch.library.custom_op("longlive::ln_mod_fp8", mutates_args=())
    def ln_mod_fp8(x: torch.Tensor, weight: torch.Tensor | None, bias: torch.Tensor | None,
                   scale: torch.Tensor | None, shift: torch.Tensor | None, eps: float,
                   frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        """ln_mod with its output quantized row-wise to e4m3 (lever ln on the fp8dq_row path): (data, scales)."""
        return _launch(x, None, None, weight, bias, scale, shift, eps, frames, None, fp8=True)

    @ln_mod_fp8.register_fake
    def _(x, weight, bias, scale, shift, eps, frames):
        return _fp8_like(x)

    @torch.library.custom_op("longlive::add_ln_mod_fp8", mutates_args=())
    def add_ln_mod_fp8(x: torch.Tensor, y: torch.Tensor, gate: torch.Tensor | None, weight: torch.Tensor | None,
                       bias: torch.Tensor | None, scale: torch.Tensor | None, shift: torch.Tensor | None, eps: float,
                       frames: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """add_ln_mod with the normalised row quantized as ln_mod_fp8: (x + y (* gate), data, scales)."""
        xo = torch.empty_like(x)
        return xo, *_launch(x, y, gate, weight, bias, scale, shift, eps, frames, xo, fp8=True)

    @add_ln_mod_fp8.register_fake
    def _(x, y, gate, weight, bias, scale, shift, eps, frames):
        return torch.empty_like(x), *_fp8_like(x)


def add_norm(x, y, gate, norm, scale, shift, frames: int):
    """The model's entry (wan.AttentionBlock.add_norm, lever `ln`): add_norm_reference's contract through the
    kernel. x, y made contiguous where they are not (a no-op in the model)."""
    x = x.contiguous()
    if y is None:
        return x, ln_mod(x, norm.weight, norm.bias, scale, shift, norm.eps, frames)
    return add_ln_mod(x, y.contiguous(), gate, norm.weight, norm.bias, scale, shift, norm.eps, frames)


def add_norm_fp8(x, y, gate, norm, scale, shift, frames: int):
    """add_norm for a model whose next Linears are torchao fp8dq_row ones (lever ln with quant=fp8dq_row):
    (x + y * gate, (data, scales)), the normalised row already quantized as those Linears would quantize it,
    a pair that `model.wan.linear` takes. Instead of Inductor's kernel of the norm fused with torchao's
    quantization (25-34 us a call in the FP8 block profile, a looped reduction)."""
    x = x.contiguous()
    if y is None:
        return x, ln_mod_fp8(x, norm.weight, norm.bias, scale, shift, norm.eps, frames)
    xo, data, row_scales = add_ln_mod_fp8(x, y.contiguous(), gate, norm.weight, norm.bias, scale, shift, norm.eps,
                                          frames)
    return xo, (data, row_scales)


def add_norm_fp8_reference(x, y, gate, norm, scale, shift, frames: int):
    """add_norm_fp8's contract in plain torch (tests): the block's own code, then torchao's quantization."""
    from .fp8_kernel import quantize_rows_reference
    x, n = add_norm_reference(x, y, gate, norm, scale, shift, frames)
    return x, quantize_rows_reference(n)

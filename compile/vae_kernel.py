"""One Triton kernel for the VAE's RMSNorm + SiLU in front of each cached causal conv, reading the conv's
2-frame history itself (`WanVAEDecoder.fuse_norm_history`, CUDA only).

Why: compiled, the decoder concatenates [history, new frames] in front of every conv. Inductor writes the
new frames straight into that concatenation buffer but copies the history in much earlier in the pass, so
the 6-frame buffers of all full-resolution convs are alive together: 3.8 GiB of transients on the H100
against 1.3 GiB eager (BENCHMARKS.md, VAE). Caching each conv's frames *before* the norm
(`history_before_norm`) lets one kernel build the conv input from both sources; Inductor's own kernel for
that (pointwise concatenation) cost 4 ms per latent frame (the same section). This kernel: one program
takes a tile of pixels with all their channels (channels-last: one contiguous run per pixel), and for each
of the 2 + T frames loads the history or the new frame (+ the previous conv's bias), normalises over the
channels in float32, scales by sqrt(C) * gamma, applies SiLU and stores the conv input. After a barrier it
stores the last 2 frames (pre-norm, rounded to the activation dtype as the eager conv output is) back as
the history: each program rewrites only its own pixels, after reading them.

Numerics: F.normalize(x, dim=1) * sqrt(C) * gamma then SiLU, in float32 with one rounding at the store
(eager BF16 rounds after each op; Inductor's fused kernels, like this one, do not).

Registered twice: `longlive::vae_norm_silu_history`, an opaque custom op (the default: torch.compile calls
it as it is and Triton's launcher compiles and caches the kernel, as in eager) and
`longlive::vae_norm_silu_history_traced`, a triton_op (Inductor compiles the kernel into each graph and
launches it). Same speed in the compiled decoder; the opaque op starts 9 s faster warm, 26 s cold
(OPTIMIZATION_LOG.md row 31).
"""
import torch
import torch.nn.functional as F

try:
    import triton
    import triton.language as tl
    from torch.library import triton_op, wrap_triton
except ImportError:             # the CPU wheels of torch come without Triton
    triton = None

UNAVAILABLE = None if triton is not None else "Triton is not installed (CPU-only torch)"
EPS = 1e-12                     # F.normalize's default: x / max(|x|, eps)


def pixel_stride(x: torch.Tensor):
    """The distance between pixels of x [B, C, T, H, W] if x is channels-last (NDHWC) with its channels
    contiguous, possibly the first C channels of a wider tensor (CausalConv3d.out_pad); else None."""
    B, C, T, H, W = x.shape
    xs = x.stride(4)
    want = (T * H * W * xs, 1, H * W * xs, W * xs, xs)
    ok = W > 1 and xs >= C and all(s == w or n == 1 for s, w, n in zip(x.stride(), want, x.shape))
    return xs if ok else None


def norm_silu_history_reference(x, hist, bias, has_bias: bool, gamma, scale: float, eps: float = EPS):
    """What the kernel computes, in plain torch (CPU, tests): x [B, C, T, H, W] new frames (before the
    norm; + bias [C] when has_bias, as the conv that made them would have added it), hist [B, C, 2, H, W]
    the history before the norm, updated in place to the last 2 frames. Returns SiLU(normalize(cat) *
    scale * gamma) of cat = [hist, x], [B, C, 2 + T, H, W]."""
    if has_bias:
        x = x + bias.view(1, -1, 1, 1, 1)
    cat = torch.cat([hist, x], dim=2)
    hist.copy_(cat[:, :, -hist.shape[2]:])
    return F.silu(F.normalize(cat, dim=1, eps=eps) * scale * gamma.view(1, -1, 1, 1, 1))


if triton is not None:
    @triton.jit
    def _norm_silu_history_kernel(x_ptr, hist_ptr, bias_ptr, gamma_ptr, out_ptr, HW, XS, scale, eps,
                                  C: tl.constexpr, T: tl.constexpr, BLOCK_C: tl.constexpr,
                                  BLOCK_P: tl.constexpr, HAS_BIAS: tl.constexpr, w_ptr, TAPS: tl.constexpr,
                                  CO: tl.constexpr, NT: tl.constexpr, IEEE: tl.constexpr):
        """Grid (pixel tiles, batch). All tensors channels-last: element (b, c, f, p) at ((b F + f) HW + p) C + c,
        except x, whose pixels are XS >= C apart (the first C channels of a wider conv output). With TAPS
        (the head conv, head_taps) each conv-input row is not stored but multiplied by w [BLOCK_C, NT] (the 27
        taps x CO outputs of a 3x3x3 conv, zero-padded) and the products stored tap-major in out, float32:
        element (b, f, k, p, co) at (((b F + f) 27 + k) HW + p) CO + co."""
        dtype = hist_ptr.dtype.element_ty
        b = tl.program_id(1).to(tl.int64)
        p = tl.program_id(0) * BLOCK_P + tl.arange(0, BLOCK_P)
        c = tl.arange(0, BLOCK_C)
        cm = c < C
        m = (p < HW)[:, None] & cm[None, :]
        off = p.to(tl.int64)[:, None] * C + c[None, :]
        xoff = p.to(tl.int64)[:, None] * XS + c[None, :]
        frame = HW.to(tl.int64) * C
        xframe = HW.to(tl.int64) * XS
        x_base = x_ptr + b * T * xframe
        h_base = hist_ptr + b * 2 * frame
        o_base = out_ptr + b * (T + 2) * frame
        eps = eps.to(tl.float32)                    # Inductor passes Python floats as fp64: keep the math fp32
        g = tl.load(gamma_ptr + c, mask=cm, other=0.0).to(tl.float32) * scale.to(tl.float32)
        bias = tl.load(bias_ptr + c, mask=cm, other=0.0).to(tl.float32)
        if TAPS:
            j = tl.arange(0, NT)
            wt = tl.load(w_ptr + c[:, None] * NT + j[None, :])
            pm = (p < HW)[:, None] & (j < 27 * CO)[None, :]
            poff = (j // CO).to(tl.int64)[None, :] * HW * CO + p.to(tl.int64)[:, None] * CO + (j % CO)[None, :]
        for f in tl.static_range(T + 2):
            if f < 2:
                v = tl.load(h_base + f * frame + off, mask=m, other=0.0).to(tl.float32)
            else:
                v = tl.load(x_base + (f - 2) * xframe + xoff, mask=m, other=0.0).to(tl.float32)
                if HAS_BIAS:
                    v = (v + bias[None, :]).to(dtype).to(tl.float32)
            r = 1.0 / tl.maximum(tl.sqrt(tl.sum(v * v, axis=1)), eps)
            y = v * r[:, None] * g[None, :]
            if TAPS:
                s = (y * tl.sigmoid(y)).to(dtype)
                if IEEE:
                    pk = tl.dot(s, wt, input_precision="ieee")
                else:
                    pk = tl.dot(s, wt)
                tl.store(out_ptr + ((b * (T + 2) + f) * 27) * HW * CO + poff, pk, mask=pm)
            else:
                tl.store(o_base + f * frame + off, (y * tl.sigmoid(y)).to(dtype), mask=m)
        tl.debug_barrier()                          # every read of this tile's history is done
        for j in tl.static_range(2):
            if T + j < 2:
                v = tl.load(h_base + (T + j) * frame + off, mask=m, other=0.0)
            else:
                v = tl.load(x_base + (T + j - 2) * xframe + xoff, mask=m, other=0.0)
                if HAS_BIAS:
                    v = (v.to(tl.float32) + bias[None, :]).to(dtype)
            tl.store(h_base + j * frame + off, v, mask=m)

    def _conv_input_like(x):
        """The kernel's output for new frames x [B, C, T, H, W]: [B, C, 2 + T, H, W], NDHWC."""
        B, C, T, H, W = x.shape
        return x.new_empty((B, T + 2, H, W, C)).permute(0, 4, 1, 2, 3)

    NORM_TILE = (4096, 4)       # elements a program holds (pixels x channels, powers of 2), num_warps

    def _launch(kernel, x, hist, bias, has_bias, gamma, scale, eps, tile=None, taps=None):
        """The norm kernel on x, hist; returns the conv input, or with `taps` (the head conv's weight
        [Co, C, 3, 3, 3]) the taps' products, float32 [B, T + 2, 27, H, W, Co]."""
        B, C, T, H, W = x.shape
        elements, warps = tile or NORM_TILE
        if taps is None:
            block_c = triton.next_power_of_2(C)
            block_p = max(1, elements // block_c)
            out, w, co, nt = _conv_input_like(x), gamma, 1, 16
        else:
            block_c = max(16, triton.next_power_of_2(C))             # tl.dot needs K >= 16, M >= 16
            block_p = max(16, elements // block_c)
            co = taps.shape[0]
            nt = triton.next_power_of_2(27 * co)
            out = torch.empty((B, T + 2, 27, H, W, co), dtype=torch.float32, device=x.device)
            w = _head_weights(taps, block_c, nt)
        kernel[(triton.cdiv(H * W, block_p), B)](
            x, hist, bias, gamma, out, H * W, pixel_stride(x), scale, eps, C=C, T=T, BLOCK_C=block_c, BLOCK_P=block_p,
            HAS_BIAS=has_bias, w_ptr=w, TAPS=taps is not None, CO=co, NT=nt,
            IEEE=taps is not None and x.dtype == torch.float32, num_warps=warps)
        return out

    def norm_silu_history_tiled(x, hist, bias, has_bias, gamma, scale, eps, tile):
        """The kernel launched with another `tile` (benchmarks/vae_norm_bench.py), as in eager."""
        return _launch(_norm_silu_history_kernel, x, hist, bias, has_bias, gamma, scale, eps, tile)

    @torch.library.custom_op("longlive::vae_norm_silu_history", mutates_args={"hist"})
    def norm_silu_history(x: torch.Tensor, hist: torch.Tensor, bias: torch.Tensor, has_bias: bool,
                          gamma: torch.Tensor, scale: float, eps: float) -> torch.Tensor:
        """norm_silu_history_reference on the GPU; hist channels-last (NDHWC) contiguous, x too or the first C
        channels of a wider one (pixel_stride), gamma [C].
        An opaque op to torch.compile: Inductor calls it as it is (launched as in eager)."""
        return _launch(_norm_silu_history_kernel, x, hist, bias, has_bias, gamma, scale, eps)

    @norm_silu_history.register_fake
    def _(x, hist, bias, has_bias, gamma, scale, eps):
        return _conv_input_like(x)

    @triton_op("longlive::vae_norm_silu_history_traced", mutates_args={"hist"})
    def norm_silu_history_traced(x: torch.Tensor, hist: torch.Tensor, bias: torch.Tensor, has_bias: bool,
                                 gamma: torch.Tensor, scale: float, eps: float) -> torch.Tensor:
        """The same kernel as a triton_op: torch.compile sees the Triton kernel and Inductor launches it.
        (Inductor types Python float arguments fp64, which made the first version's math fp64 and the kernel
        6.5x slower there than launched as in eager; the kernel casts them to fp32 now. Inductor's mutation
        analysis of the kernel fails on `HW.to` with HW specialised to an int and then assumes every input
        mutated: still correct, with a long warning in the log.)"""
        return _launch(wrap_triton(_norm_silu_history_kernel), x, hist, bias, has_bias, gamma, scale, eps)


def _stream_input(x, hist):
    """Check hist and return x as the kernels read it: NDHWC, or the first channels of a wider NDHWC tensor."""
    cl = torch.channels_last_3d
    if not hist.is_contiguous(memory_format=cl):
        raise ValueError("the fused VAE norm needs channels-last history buffers "
                         "(WanVAEDecoder.to_channels_last before new_stream)")
    return x if pixel_stride(x) is not None else x.contiguous(memory_format=cl)


def fused_norm_silu_history(x, hist, bias, gamma, scale, op=None):
    """The model's entry (WanVAEDecoder.fuse_norm_history): x [B, C, T, H, W] before the norm (bias: the
    previous conv's, not yet added, or None), hist its conv's buffer; returns the conv input. `op`: the
    registered op to call (default the opaque custom op; the triton_op, which Inductor compiles and
    launches itself, measured the same in the compiled decoder, 35.9 vs 36.2 ms per latent frame on the
    H100, but costs 9 s more at a warm start and 26 s more cold: compile_vae's `fused_norm_op`)."""
    x = _stream_input(x, hist)
    return (op or norm_silu_history)(x, hist, gamma if bias is None else bias, bias is not None, gamma.view(-1),
                                     scale, EPS)


def fused_norm_silu_history_traced(x, hist, bias, gamma, scale):
    """fused_norm_silu_history through the triton_op (Inductor compiles and launches the kernel)."""
    return fused_norm_silu_history(x, hist, bias, gamma, scale, op=norm_silu_history_traced)


def fused_norm_silu_history_opaque(x, hist, bias, gamma, scale):
    """fused_norm_silu_history through the opaque custom op (torch.compile calls it as it is; the default)."""
    return fused_norm_silu_history(x, hist, bias, gamma, scale, op=norm_silu_history)


def reference_norm_silu_history(x, hist, bias, gamma, scale):
    """fused_norm_silu_history's signature over the plain-torch reference (CPU tests of the wiring)."""
    return norm_silu_history_reference(x, hist, bias, bias is not None, gamma.view(-1), scale)


# The head conv (96 -> 3 channels at full resolution) through its taps (WanVAEDecoder.head_taps_kernel). cuDNN
# runs it at ~20 TFLOP/s, 1.2 ms of a ~32 ms pass on the H100: its implicit GEMM re-reads the 27 taps' inputs
# (2592 values per output pixel) to feed a tile far wider than 3 outputs, and a Triton conv of the same design did
# no better (OPTIMIZATION_LOG.md row 43). Instead the norm kernel that builds the head's input, which holds each
# pixel's 96 channels in registers, multiplies them by the 81 (tap, output) weight columns and stores those
# products (float32, tap-major); a second kernel sums, for each output pixel, the 27 products of its neighbours.
# The input is read once and never written; the products are written once and read once.

def head_taps_reference(inp, weight):
    """The same decomposition in plain torch (tests): inp [B, C, T + 2, H, W] the head's input (its history
    included), weight [Co, C, 3, 3, 3] -> the conv [B, Co, T, H, W] (zero padding 1 in height and width, none in
    time, no bias) as the sum over taps k = (dt, dh, dw) of the products P[k] = inp . weight[:, :, k], shifted."""
    B, C, T2, H, W = inp.shape
    co = weight.shape[0]
    prod = torch.einsum("bcthw,ock->btkhwo", inp, weight.reshape(co, C, 27))       # [B, T + 2, 27, H, W, Co]
    prod = F.pad(prod, (0, 0, 1, 1, 1, 1))                                           # zero rows and columns
    out = 0
    for k in range(27):
        dt, dh, dw = k // 9, k // 3 % 3, k % 3
        out = out + prod[:, dt:dt + T2 - 2, k, dh:dh + H, dw:dw + W]
    return out.permute(0, 4, 1, 2, 3)


def norm_silu_head_reference(x, hist, bias, gamma, scale, weight):
    """What the head op computes, in plain torch: the norm + SiLU of [hist, x (+ bias)] (the history updated),
    then the head conv without bias."""
    inp = norm_silu_history_reference(x, hist, bias, bias is not None, gamma.view(-1), scale)
    return F.conv3d(inp, weight, None, 1, (0, 1, 1))


if triton is not None:
    @triton.jit
    def _taps_sum_kernel(p_ptr, out_ptr, H, W, T, CO: tl.constexpr, BLOCK: tl.constexpr):
        """Grid (pixel tiles, B * T): out[b, t, h, w, co] = sum over the 27 taps (dt, dh, dw) of
        P[b, t + dt, k, h + dh - 1, w + dw - 1, co] (zero outside the frame); P as _norm_silu_history_kernel's
        TAPS output, out NDHWC [B, T, H, W, CO]."""
        bt = tl.program_id(1)
        b = bt // T
        t = bt % T
        p = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        h = p // W
        w = p % W
        co = tl.arange(0, 4)
        cm = co < CO
        acc = tl.zeros((BLOCK, 4), dtype=tl.float32)
        for k in range(27):
            hh = h + (k // 3 % 3 - 1)
            ww = w + (k % 3 - 1)
            ok = (p < H * W) & (hh >= 0) & (hh < H) & (ww >= 0) & (ww < W)
            src = (((b * (T + 2) + t + k // 9) * 27 + k).to(tl.int64) * H * W + hh * W + ww) * CO
            acc += tl.load(p_ptr + src[:, None] + co[None, :], mask=ok[:, None] & cm[None, :], other=0.0)
        dst = (bt.to(tl.int64) * H * W + p) * CO
        tl.store(out_ptr + dst[:, None] + co[None, :], acc.to(out_ptr.dtype.element_ty),
                 mask=(p < H * W)[:, None] & cm[None, :])

    def _head_weights(weight, block_c, nt):
        co, c = weight.shape[:2]
        wt = weight.new_zeros((block_c, nt))
        wt[:c, :27 * co] = weight.reshape(co, c, 27).permute(1, 2, 0).reshape(c, 27 * co)
        return wt

    def _head_out_like(x, co):
        B, C, T, H, W = x.shape
        return x.new_empty((B, T, H, W, co)).permute(0, 4, 1, 2, 3)

    @torch.library.custom_op("longlive::vae_norm_silu_head", mutates_args={"hist"})
    def norm_silu_head(x: torch.Tensor, hist: torch.Tensor, bias: torch.Tensor, has_bias: bool,
                       gamma: torch.Tensor, scale: float, eps: float, weight: torch.Tensor) -> torch.Tensor:
        """norm_silu_head_reference on the GPU (x, hist as norm_silu_history's; weight [Co <= 4, C, 3, 3, 3]),
        through the taps products (float32, [B, T + 2, 27, H, W, Co], a transient); an opaque op."""
        B, C, T, H, W = x.shape
        co = weight.shape[0]
        prod = _launch(_norm_silu_history_kernel, x, hist, bias, has_bias, gamma, scale, eps, taps=weight)
        out = _head_out_like(x, co)
        _taps_sum_kernel[(triton.cdiv(H * W, 512), B * T)](prod, out, H, W, T, CO=co, BLOCK=512, num_warps=4)
        return out

    @norm_silu_head.register_fake
    def _(x, hist, bias, has_bias, gamma, scale, eps, weight):
        return _head_out_like(x, weight.shape[0])


def fused_norm_silu_head(x, hist, bias, gamma, scale, weight):
    """The model's entry (WanVAEDecoder.head_taps_kernel): the head's norm + SiLU + history and its conv (no
    bias) in the two kernels above; x, hist as fused_norm_silu_history takes them."""
    if weight.shape[0] > 4 or tuple(weight.shape[2:]) != (3, 3, 3):
        raise ValueError(f"the head taps kernels take 3x3x3 weights of at most 4 output channels, not "
                         f"{tuple(weight.shape)}")
    x = _stream_input(x, hist)
    return norm_silu_head(x, hist, gamma if bias is None else bias, bias is not None, gamma.view(-1), scale, EPS,
                          weight)

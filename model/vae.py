"""The Wan2.1 VAE decoder (latents -> pixels) with a static, streaming causal cache (SPEC-wan section 7).

T2V needs only `conv2` and `decoder.*` of `Wan2.1_VAE.pth`; parameter names here are exactly those keys,
so the official file loads without renaming (`vae_state_dict_from_diffusers` maps diffusers' names).

Time is causal: every CausalConv3d (temporal kernel 3) sees its current input frames plus the 2 input
frames before them, zeros before the video. Streaming keeps those 2 frames per conv in a buffer of fixed
shape allocated once per stream (`VAEStream`); each pass concatenates buffer + input, convolves without
temporal padding and copies the last 2 frames of that concatenation back into the buffer. Any number of
latent frames can go through one pass; the output only depends on the frames, not on how they are split.

Why zero-filled buffers reproduce Wan's list-based cache (`feat_cache`, one latent frame per pass):
- Wan pads missing history with zero frames (F.pad). Before the first frame the buffer is all zeros, so
  cat(buffer, x) is exactly the zero-padded input; after the first frame Wan keeps 1 frame and pads one
  zero in front of it, which is the buffer [0, x0]; from then on both hold the last 2 real frames.
- 'Rep': on the stream's first frame each temporal upsample skips time_conv (1 latent frame -> 1 frame)
  and stores the marker 'Rep' instead of history; on the next frame time_conv runs with zero padding
  (history = zeros, the first frame is never part of it). Here the first frame bypasses time_conv and
  its buffer is left at zero: the next time_conv sees the same zeros. Later latent frames give 2 frames
  per temporal upsample: 1 + 4 (T - 1) video frames for T latent frames.
"""
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from .checkpoint import check_keys, read_state_dict

# Per-channel statistics of Wan2.1 latents (WanVAEWrapper): z_raw = z * std + mean.
LATENTS_MEAN = (-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
                0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921)
LATENTS_STD = (2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
               3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160)


@dataclass(frozen=True)
class VAEConfig:
    """Decoder shapes. Defaults are Wan2.1's VAE (`_video_vae`: dim 96, z_dim 16)."""
    dim: int = 96                          # base width; stage widths are dim * dim_mult, reversed
    z_dim: int = 16                        # latent channels
    dim_mult: tuple = (1, 2, 4, 4)
    num_res_blocks: int = 2                # the decoder has num_res_blocks + 1 per stage
    temporal_upsample: tuple = (True, True, False)   # per upsampling stage (Wan's temperal_downsample reversed)
    latents_mean: tuple = LATENTS_MEAN
    latents_std: tuple = LATENTS_STD

    def __post_init__(self):
        for name in ("dim_mult", "temporal_upsample", "latents_mean", "latents_std"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if len(self.temporal_upsample) != len(self.dim_mult) - 1:
            raise ValueError(f"vae.temporal_upsample={self.temporal_upsample} needs one entry per upsampling "
                             f"stage: {len(self.dim_mult) - 1} for dim_mult={self.dim_mult}")
        if not len(self.latents_mean) == len(self.latents_std) == self.z_dim:
            raise ValueError(f"vae.latents_mean/std need z_dim={self.z_dim} entries")

    @property
    def temporal_factor(self) -> int:
        """Video frames per latent frame after the first."""
        return 2 ** sum(self.temporal_upsample)

    @property
    def spatial_factor(self) -> int:
        return 2 ** (len(self.dim_mult) - 1)


VAE_PRESETS = {
    "wan2_1": VAEConfig(),
    # The same structure 12x narrower: decodes a few frames on a CPU core in well under a second.
    "tiny": VAEConfig(dim=8),
}

CACHE_FRAMES = 2    # input frames a temporal-kernel-3 causal conv needs from the past


class CausalConv3d(nn.Conv3d):
    """Conv3d, causal in time (history zero-padded or taken from the stream cache), 'same' in space.

    The spatial zero padding is a copy of the input (F.pad, as Wan does) unless `pad_in_conv`, when the
    convolution pads by itself (`WanVAEDecoder.pad_space_in_conv`): the same sums, without writing a padded
    copy of every conv input (the H100 profile shows pure padding kernels at ~7.5 ms per streamed block)."""
    pad_in_conv = False
    out_pad = 0          # computes this many output channels (zero weights past out_channels), keeps out_channels

    def __init__(self, in_dim, out_dim, kernel, padding=0, hw_scale=1):
        super().__init__(in_dim, out_dim, kernel)
        pt, ph, pw = padding if isinstance(padding, tuple) else (padding,) * 3
        self.time_pad = 2 * pt                    # all of it in front
        self.hw_pad = (pw, pw, ph, ph)
        self.hw_scale = hw_scale                  # input height / latent height: sizes this conv's cache
        self.cache_name = None                    # key of this conv's buffer in VAEStream.caches
        assert self.time_pad in (0, CACHE_FRAMES), "only temporal kernels 1 and 3 occur in Wan's VAE"

    def forward(self, x, caches=None, prologue=None):
        """x [B, C, T, H, W]. caches None: x starts the video (zero history); else read and update the buffer.
        `prologue` (elementwise per frame and pixel, 0 -> 0: the RMSNorm + SiLU before the conv) is applied to
        x here; with a cache it runs on the concatenation, so the buffer keeps its frames *before* the
        prologue (WanVAEDecoder.history_before_norm): the same conv input, the norm recomputed on 2 frames."""
        hw_pad = (0, 0, 0, 0) if self.pad_in_conv else self.hw_pad
        if self.time_pad and caches is not None:
            cache = caches[self.cache_name]                      # [B, C, 2, H, W]
            x = torch.cat([cache, x], dim=2)                     # [B, C, 2 + T, H, W]
            cache.copy_(x[:, :, -CACHE_FRAMES:])
            if prologue is not None:
                x = prologue(x)
            if not self.pad_in_conv:
                x = F.pad(x, hw_pad)
        else:
            if prologue is not None:
                x = prologue(x)
            if not self.pad_in_conv or self.time_pad:
                x = F.pad(x, hw_pad + (self.time_pad, 0))
        return self.conv(x, self.bias)

    def conv_no_bias(self, x):
        """The bare convolution of an input that already carries its history (WanVAEDecoder.fuse_norm_history):
        spatial zero padding as configured, no temporal padding, no bias (added by the caller)."""
        if not self.pad_in_conv:
            x = F.pad(x, self.hw_pad)
        return self.conv(x, None)

    def conv(self, x, bias):
        """F.conv3d with this conv's weight, or, with `out_pad` > out_channels (WanVAEDecoder.pad_conv_channels),
        with the weight and bias extended by zero output channels up to out_pad, keeping the first out_channels
        of the result (a view). The same sums; another convolution kernel may run."""
        extra = self.out_pad - self.out_channels
        if extra <= 0:
            return F.conv3d(x, self.weight, bias, self.stride, self.padding)
        w = torch.cat([self.weight, self.weight.new_zeros((extra, *self.weight.shape[1:]))])
        if self.weight.is_contiguous(memory_format=torch.channels_last_3d) and not self.weight.is_contiguous():
            w = w.contiguous(memory_format=torch.channels_last_3d)
        bias = None if bias is None else torch.cat([bias, bias.new_zeros(extra)])
        return F.conv3d(x, w, bias, self.stride, self.padding)[:, :self.out_channels]

    def bias_view(self):
        return self.bias.view(1, -1, 1, 1, 1)


class RMSNorm(nn.Module):
    """Wan's RMS_norm: L2-normalise over channels (dim 1), times sqrt(C) and a per-channel gamma."""

    def __init__(self, dim, spatial_dims=3):
        super().__init__()
        self.scale = dim ** 0.5
        self.gamma = nn.Parameter(torch.ones(dim, *(1,) * spatial_dims))

    def forward(self, x):
        return F.normalize(x, dim=1) * self.scale * self.gamma


class ResidualBlock(nn.Module):
    """Wan's ResidualBlock. With `history_before_norm` (WanVAEDecoder.history_before_norm) each conv gets its
    RMSNorm + SiLU as a prologue and caches its frames before them (CausalConv3d.forward); with `norm_history`
    (WanVAEDecoder.fuse_norm_history) one function builds each conv input from the history and the new
    frames (compile/vae_kernel.py) and the convs' biases are added where the next op reads them."""
    history_before_norm = False
    norm_history = None

    def __init__(self, in_dim, out_dim, hw_scale):
        super().__init__()
        # Wan's nn.Sequential indices (weight names residual.0/2/3/6); index 5 was Dropout(0.0).
        self.residual = nn.Sequential(
            RMSNorm(in_dim), nn.SiLU(), CausalConv3d(in_dim, out_dim, 3, padding=1, hw_scale=hw_scale),
            RMSNorm(out_dim), nn.SiLU(), nn.Identity(), CausalConv3d(out_dim, out_dim, 3, padding=1, hw_scale=hw_scale))
        self.shortcut = CausalConv3d(in_dim, out_dim, 1) if in_dim != out_dim else nn.Identity()

    def forward(self, x, caches=None):
        h = self.shortcut(x)
        if self.norm_history is not None and caches is not None:
            norm1, _, conv1, norm2, _, _, conv2 = self.residual
            y = conv1.conv_no_bias(self.norm_history(x, caches[conv1.cache_name], None, norm1.gamma, norm1.scale))
            y = conv2.conv_no_bias(self.norm_history(y, caches[conv2.cache_name], conv1.bias, norm2.gamma,
                                                     norm2.scale))
            return y + conv2.bias_view() + h
        if self.history_before_norm:
            norm1, act1, conv1, norm2, act2, _, conv2 = self.residual
            x = conv1(x, caches, prologue=lambda t: act1(norm1(t)))
            return conv2(x, caches, prologue=lambda t: act2(norm2(t))) + h
        for layer in self.residual:
            x = layer(x, caches) if isinstance(layer, CausalConv3d) else layer(x)
        return x + h


def attention_by_gemms(q, k, v):
    """softmax(q k^T / sqrt(C)) v of q, k, v [N, L, C] as two batched GEMMs and a softmax: the logits in float32
    (a BF16 GEMM with a float32 output on CUDA, `bmm(..., out_dtype=)`; elsewhere the inputs widened, the same
    exact products), the probabilities rounded to v's dtype for the second GEMM, as flash kernels do. For the
    VAE's one head of dim 384, which no flash kernel takes: PyTorch's SDPA runs the memory-efficient cutlass
    kernel there (~100 TFLOP/s on the H100, BENCHMARKS.md, VAE), where cuBLAS GEMMs of this size run at several
    times that (this path's own speed not measured yet); the [L, L] float32 logits (156 MB for a 480x832 frame)
    are the price."""
    if q.is_cuda and q.dtype in (torch.bfloat16, torch.float16):
        s = torch.bmm(q, k.transpose(1, 2), out_dtype=torch.float32)
    else:
        s = torch.bmm(q.float(), k.float().transpose(1, 2))
    p = torch.softmax(s * q.shape[-1] ** -0.5, dim=-1).to(v.dtype)
    return torch.bmm(p, v)


class AttentionBlock(nn.Module):
    """One-head self-attention over the H x W positions of each frame separately (no time mixing).
    `by_gemms` (WanVAEDecoder.attention_by_gemms): the attention as attention_by_gemms, not SDPA."""
    by_gemms = False

    def __init__(self, dim):
        super().__init__()
        self.norm = RMSNorm(dim, spatial_dims=2)
        self.to_qkv = nn.Conv2d(dim, dim * 3, 1)
        self.proj = nn.Conv2d(dim, dim, 1)

    def forward(self, x, caches=None):
        b, c, t, h, w = x.shape
        y = x.transpose(1, 2).reshape(b * t, c, h, w)                         # (B*T, C, H, W)
        qkv = self.to_qkv(self.norm(y)).reshape(b * t, 1, 3 * c, h * w)       # (B*T, 1, 3C, HW)
        q, k, v = qkv.transpose(2, 3).contiguous().chunk(3, dim=-1)          # (B*T, 1, HW, C) each
        if self.by_gemms:
            y = attention_by_gemms(q.squeeze(1), k.squeeze(1), v.squeeze(1)).unsqueeze(1)
        else:
            y = F.scaled_dot_product_attention(q, k, v)                      # (B*T, 1, HW, C)
        y = self.proj(y.squeeze(1).transpose(1, 2).reshape(b * t, c, h, w))  # (B*T, C, H, W)
        return x + y.view(b, t, c, h, w).transpose(1, 2)


# Nearest 2x upsampling then a 3x3 conv (padding 1) equals, per output phase (row parity a, column parity
# b), a 2x2 conv of the low-resolution input: output row 2i + a reads upsampled rows 2i + a - 1 .. 2i + a + 1,
# i.e. input rows (i - 1, i, i) for a = 0 and (i, i, i + 1) for a = 1, so the 3 kernel rows fold into 2 taps.
# _FOLD[a, u, k]: how much kernel row (or column) k adds to tap u of phase a.
_FOLD = ((1.0, 0.0, 0.0), (0.0, 1.0, 1.0)), ((1.0, 1.0, 0.0), (0.0, 0.0, 1.0))


def subpixel_weights(weight, bias):
    """Conv2d weight [Co, Ci, 3, 3] (+ bias [Co]) applied after nearest 2x upsampling -> the equivalent 2x2
    weights of its 4 output phases as one conv [4 Co, Ci, 2, 2] (phase 2a + b in channels p Co .. (p + 1) Co)
    and the bias repeated per phase. Folded in float32 (or wider), then rounded once to the weight's dtype."""
    acc = torch.promote_types(weight.dtype, torch.float32)
    fold = torch.tensor(_FOLD, dtype=acc, device=weight.device)                     # (2a, 2u, 3k)
    w = torch.einsum("auk,bvl,oikl->aboiuv", fold, fold, weight.to(acc))
    co, ci = weight.shape[:2]
    return w.reshape(4 * co, ci, 2, 2).to(weight.dtype), bias.repeat(4)


class Upsample(nn.Module):
    """Wan's Resample 'upsample2d' (nearest 2x + conv to half the channels) or 'upsample3d' (a time_conv to
    2C channels first, its halves interleaved as frames 2k, 2k+1; the stream's first frame skips it).

    With `subpixel` (WanVAEDecoder.subpixel_upsample) the upsampled input is never built: one 2x2 conv of the
    low-resolution input gives all 4 output phases (4/9 of the taps on a quarter of the pixels: 2.25x fewer
    FLOPs), and the phases are interleaved into the output. The same sums with the kernel taps pre-added."""
    subpixel = False

    def __init__(self, dim, temporal, hw_scale):
        super().__init__()
        self.temporal = temporal
        # Nearest upsampling only copies values, so running it in bf16 equals Wan's fp32 round trip.
        self.resample = nn.Sequential(nn.Upsample(scale_factor=(2.0, 2.0), mode="nearest"),
                                      nn.Conv2d(dim, dim // 2, 3, padding=1))
        if temporal:
            self.time_conv = CausalConv3d(dim, dim * 2, (3, 1, 1), padding=(1, 0, 0), hw_scale=hw_scale)

    def double_frames(self, x, caches, first):
        """[B, C, T, H, W] -> [B, C, 2T, H, W], or 1 + 2 (T - 1) frames when x starts the stream."""
        if first:
            head, x = x[:, :, :1], x[:, :, 1:]       # Wan's 'Rep': frame 0 passes, its buffer stays zero
        if x.shape[2]:
            b, c, t, h, w = x.shape
            y = self.time_conv(x, caches).view(b, 2, c, t, h, w)           # (B, 2, C, T, H, W)
            x = y.permute(0, 2, 3, 1, 4, 5).reshape(b, c, 2 * t, h, w)     # (B, C, T*2, H, W)
        return torch.cat([head, x], dim=2) if first else x

    def forward(self, x, caches=None, first=False):
        if self.temporal:
            x = self.double_frames(x, caches, first)
        b, c, t, h, w = x.shape
        x = x.transpose(1, 2).reshape(b * t, c, h, w)                      # (B*T, C, H, W)
        y = self.upsample_subpixel(x) if self.subpixel else self.resample(x)  # (B*T, C/2, 2H, 2W)
        return y.view(b, t, c // 2, 2 * h, 2 * w).transpose(1, 2)           # (B, C/2, T, 2H, 2W)

    def upsample_subpixel(self, x):
        """x [N, C, H, W] -> conv3x3(nearest2x(x)) [N, C/2, 2H, 2W] through the 4 phase convs (same layout as x)."""
        conv = self.resample[1]
        channels_last = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
        weight, bias = subpixel_weights(conv.weight, conv.bias)
        if channels_last:
            weight = weight.contiguous(memory_format=torch.channels_last)
        n, _, h, w = x.shape
        co = conv.out_channels
        out = F.conv2d(x, weight, bias, padding=1).permute(0, 2, 3, 1)    # (N, H+1, W+1, 4 Co)
        # phase (a, b) is output pixel (2i + a, 2j + b); its 2x2 window starts at padded row i + a, column j + b
        rows = [torch.stack([out[:, a:a + h, b:b + w, (2 * a + b) * co:(2 * a + b + 1) * co] for b in (0, 1)], dim=3)
                for a in (0, 1)]                                           # (N, H, W, 2, Co) per a
        y = torch.stack(rows, dim=2).reshape(n, 2 * h, 2 * w, co).permute(0, 3, 1, 2)   # (N, Co, 2H, 2W)
        return y if channels_last else y.contiguous()


class Decoder3d(nn.Module):
    """Wan's Decoder3d: conv1, middle (Res, Attn, Res), upsampling stages, head. Module names as in Wan.
    `history_before_norm`, `norm_history`: the head's conv caches its frames before the RMSNorm + SiLU, as
    ResidualBlock's; with `norm_history`, `head_taps` (WanVAEDecoder.head_taps_kernel) may build the head's
    input and run its conv in one function: fn(x, history, bias, gamma, scale, weight) -> output without bias."""
    history_before_norm = False
    norm_history = None
    head_taps = None

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        dims = [cfg.dim * m for m in (cfg.dim_mult[-1], *reversed(cfg.dim_mult))]   # Wan2.1: 384 384 384 192 96
        self.conv1 = CausalConv3d(cfg.z_dim, dims[0], 3, padding=1)
        self.middle = nn.Sequential(ResidualBlock(dims[0], dims[0], 1), AttentionBlock(dims[0]),
                                    ResidualBlock(dims[0], dims[0], 1))
        blocks, in_dim, num_stages = [], dims[0], len(dims) - 1
        for i, out_dim in enumerate(dims[1:]):
            for _ in range(cfg.num_res_blocks + 1):
                blocks.append(ResidualBlock(in_dim, out_dim, 2 ** i))
                in_dim = out_dim
            if i < num_stages - 1:
                blocks.append(Upsample(out_dim, cfg.temporal_upsample[i], 2 ** i))
                in_dim = out_dim // 2
        self.upsamples = nn.Sequential(*blocks)
        self.head = nn.Sequential(RMSNorm(in_dim), nn.SiLU(),
                                  CausalConv3d(in_dim, 3, 3, padding=1, hw_scale=2 ** (num_stages - 1)))

    def forward(self, x, caches=None, first=False):
        """x [B, z_dim, T, h, w] -> [B, 3, T', 8h, 8w]; `first`: x starts the video (T' = 1 + 4 (T - 1))."""
        x = self.conv1(x, caches)
        for layer in (*self.middle, *self.upsamples):
            x = layer(x, caches, first) if isinstance(layer, Upsample) else layer(x, caches)
        norm, act, conv = self.head
        if self.norm_history is not None and caches is not None:
            if self.head_taps is not None:
                return self.head_taps(x, caches[conv.cache_name], None, norm.gamma, norm.scale, conv.weight) \
                    + conv.bias_view()
            return conv.conv_no_bias(self.norm_history(x, caches[conv.cache_name], None, norm.gamma, norm.scale)) \
                + conv.bias_view()
        if self.history_before_norm:
            return conv(x, caches, prologue=lambda t: act(norm(t)))
        return conv(act(norm(x)), caches)


@dataclass
class VAEStream:
    """Decoder state of one video: a fixed-shape buffer per causal conv and whether frame 0 is decoded."""
    caches: dict            # conv name -> [B, C_in, 2, h * s, w * s]: its last 2 input frames (zeros at start)
    batch: int
    latent_hw: tuple
    started: bool = False
    graphs: dict = field(default_factory=dict)   # CUDA graphs of its passes (compile/cudagraph.py), freed with it

    def reset(self) -> None:
        """Start a new video in the same buffers (their addresses stay fixed)."""
        for buf in self.caches.values():
            buf.zero_()
        self.started = False


class WanVAEDecoder(nn.Module):
    """conv2 (1x1x1, on the latents) + Decoder3d; normalised DiT latents in, pixels in [-1, 1] out."""

    def __init__(self, cfg: VAEConfig = VAEConfig()):
        super().__init__()
        self.cfg = cfg
        self.channels_last = False               # activations and conv weights in NDHWC (see to_channels_last)
        self.pass_runner = None                  # runs decode_block's passes: compile/cudagraph.GraphedVAEPasses
        self.conv2 = CausalConv3d(cfg.z_dim, cfg.z_dim, 1)
        self.decoder = Decoder3d(cfg)
        for name, module in self.named_modules():
            if isinstance(module, CausalConv3d):
                module.cache_name = name

    @property
    def dtype(self):
        return self.conv2.weight.dtype

    def to_channels_last(self) -> "WanVAEDecoder":
        """Keep conv weights and activations channels-last (NDHWC, NHWC for the per-frame 2-D convs):
        cuDNN's fastest convolution kernels on Hopper read this layout, and the elementwise ops keep it.
        Same values as the default layout (convolution sums in another order: float rounding only)."""
        for m in self.modules():
            if isinstance(m, (nn.Conv3d, nn.Conv2d)):
                fmt = torch.channels_last_3d if m.weight.ndim == 5 else torch.channels_last
                m.weight.data = m.weight.data.contiguous(memory_format=fmt)
        self.channels_last = True
        return self

    def pad_space_in_conv(self, on: bool = True) -> "WanVAEDecoder":
        """Let every causal conv zero-pad height and width inside the convolution instead of writing a
        padded copy of its input first (CausalConv3d.pad_in_conv). Same sums, float rounding aside
        (another convolution algorithm may be chosen)."""
        for m in self.modules():
            if isinstance(m, CausalConv3d):
                m.pad_in_conv = on
                m.padding = (0, m.hw_pad[2], m.hw_pad[0]) if on else (0, 0, 0)
        return self

    def subpixel_upsample(self, on: bool = True) -> "WanVAEDecoder":
        """Let every spatial upsampling run as one 2x2 conv of its low-resolution input giving the 4 output
        phases (Upsample.subpixel) instead of a 3x3 conv over a nearest-upsampled copy: 2.25x fewer FLOPs in
        those convs, no 4x-sized copy. Same sums, float rounding aside (the folded taps are pre-added)."""
        for m in self.modules():
            if isinstance(m, Upsample):
                m.subpixel = on
        return self

    def pad_conv_channels(self, channels: int = 128) -> "WanVAEDecoder":
        """Let every residual-block conv with fewer than `channels` output channels compute `channels`, the
        extra ones from zero weights, and pass on a view of the first out_channels (CausalConv3d.out_pad; 0:
        off). In Wan2.1 that is the six 96-channel convs at full resolution, the costliest of a pass: cuDNN runs
        them at 372 TFLOP/s with 96 output channels and at 512 (useful) with 128, 2.14 -> 1.55 ms a call on the
        H100 (`benchmarks/vae_conv_bench.py`; the 192-channel convs padded to 256 and the 3-channel head padded
        to 8 .. 128 gain nothing there). Same sums; another convolution kernel may run (float rounding). The
        view's pixels are `channels` apart: the fused norm kernel (compile/vae_kernel.py) reads it in place."""
        if channels < 0:
            raise ValueError(f"vae conv channels {channels}: 0 (off) or the output channels to compute")
        for m in self.modules():
            if isinstance(m, ResidualBlock):
                for conv in (m.residual[2], m.residual[6]):
                    conv.out_pad = channels if channels > conv.out_channels else 0
        return self

    def history_before_norm(self, on: bool = True) -> "WanVAEDecoder":
        """Let every conv behind an RMSNorm + SiLU (both convs of each residual block, the head's) keep its
        last 2 input frames *before* the norm and run the norm on [history, new frames] itself (the norm is
        per frame and pixel, and maps zero history to zero: the same conv input). Why: then one kernel can
        build the conv input from both sources (fuse_norm_history), where otherwise, compiled, Inductor copies
        each history into its concatenation buffer early in the pass and holds all those buffers at once
        (H100: 3.8 GiB of transients instead of 1.3 eager; BENCHMARKS.md, VAE). On its own, with Inductor's
        kernels, it measured 0.93x (OPTIMIZATION_LOG.md row 29): it is the state layout of the fused kernel.
        Costs the norm of 2 more frames per conv. Call on a fresh stream: the buffers' meaning changes."""
        for m in self.modules():
            if isinstance(m, (ResidualBlock, Decoder3d)):
                m.history_before_norm = on
        return self

    def fuse_norm_history(self, fn=None) -> "WanVAEDecoder":
        """Build each cached conv's input with `fn(x, history, bias, gamma, scale)` (compile/vae_kernel.py:
        fused_norm_silu_history, one Triton kernel per conv; reference_norm_silu_history on the CPU): the
        RMSNorm + SiLU of [history, x (+ bias)], the history updated in place. Implies history_before_norm
        (the buffers hold frames before the norm); fn None turns both off. Streaming passes only: a pass
        without caches runs the plain layers. Call on a fresh stream."""
        self.history_before_norm(fn is not None)
        for m in self.modules():
            if isinstance(m, (ResidualBlock, Decoder3d)):
                m.norm_history = fn
        return self

    def head_taps_kernel(self, fn=None) -> "WanVAEDecoder":
        """In streaming passes with the fused norm (fuse_norm_history), build the head's input and run its conv
        (96 -> 3 channels) with `fn(x, history, bias, gamma, scale, weight)` (compile/vae_kernel.py:
        fused_norm_silu_head, the conv through its 27 taps' products; norm_silu_head_reference on the CPU);
        None: the norm function and the plain convolution. The same sums in another order."""
        self.decoder.head_taps = fn
        return self

    def attention_by_gemms(self, on: bool = True) -> "WanVAEDecoder":
        """The middle block's attention (one head of dim 384 over each frame's positions) as two batched GEMMs
        and a float32 softmax (`attention_by_gemms`) instead of SDPA's memory-efficient kernel: the same math,
        the logits kept in float32."""
        for m in self.modules():
            if isinstance(m, AttentionBlock):
                m.by_gemms = on
        return self

    def cached_convs(self):
        """(name, conv) of every conv that keeps history: Wan2.1 has 32 (the 1x1x1 convs keep none)."""
        return [(n, m) for n, m in self.named_modules() if isinstance(m, CausalConv3d) and m.time_pad]

    def new_stream(self, batch, latent_hw, dtype=None, device=None) -> VAEStream:
        """Zeroed cache buffers for a video of `batch` samples with latent frames of latent_hw = (h, w)."""
        h, w = latent_hw
        dtype = dtype or self.dtype
        device = device or self.conv2.weight.device
        fmt = torch.channels_last_3d if self.channels_last else torch.contiguous_format
        caches = {n: torch.zeros(batch, m.in_channels, CACHE_FRAMES, h * m.hw_scale, w * m.hw_scale,
                                 dtype=dtype, device=device).contiguous(memory_format=fmt)
                  for n, m in self.cached_convs()}
        return VAEStream(caches, batch, (h, w))

    def unnormalize(self, z):
        """z [B, C, T, h, w] in the model dtype: z / (1 / std) + mean, 1 / std rounded to the model dtype
        as WanVAEWrapper does (the constants go through float32 first, like its torch.tensor(...))."""
        mean, std = (torch.tensor(v, dtype=torch.float32, device=z.device).to(z.dtype).view(1, -1, 1, 1, 1)
                     for v in (self.cfg.latents_mean, self.cfg.latents_std))
        return z / (1.0 / std) + mean

    def forward(self, z, caches=None, first=True):
        """The tensor function of one pass (what to compile): normalised latents z [B, F, z_dim, h, w] ->
        float32 pixels [B, Fv, 3, 8h, 8w] in [-1, 1]. caches None decodes z as a whole video at once."""
        x = z.to(self.dtype).permute(0, 2, 1, 3, 4)           # (B, C, F, h, w)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last_3d)
        x = self.decoder(self.conv2(self.unnormalize(x)), caches, first)
        return x.permute(0, 2, 1, 3, 4).float().clamp(-1, 1)  # (B, Fv, 3, H, W)

    @torch.no_grad()
    def decode_block(self, z, state: VAEStream, per_frame: bool = False):
        """Decode the next F >= 1 latent frames z [B, F, z_dim, h, w] of the stream `state`, in one pass (or
        one pass per latent frame: Wan's exact kernel shapes, bitwise equal to it in BF16 on an H100).
        Returns [B, Fv, 3, 8h, 8w] float32 in [-1, 1]: Fv = 4F, or 1 + 4 (F - 1) for the stream's first block."""
        b, f, c, h, w = z.shape
        if (b, c, (h, w)) != (state.batch, self.cfg.z_dim, tuple(state.latent_hw)) or f < 1:
            raise ValueError(f"latents {tuple(z.shape)} do not fit the stream: expected [{state.batch}, F >= 1, "
                             f"{self.cfg.z_dim}, {state.latent_hw[0]}, {state.latent_hw[1]}]")
        if per_frame and f > 1:
            return torch.cat([self.decode_block(z[:, i:i + 1], state) for i in range(f)], dim=1)
        first = not state.started
        out = self(z, state.caches, first=first) if self.pass_runner is None else self.pass_runner(self, z, state, first)
        state.started = True
        return out

    def decode(self, z):
        """Reference path: the whole video z [B, T, z_dim, h, w], one latent frame per pass as Wan's decode
        loop does. Returns [B, 1 + 4 (T - 1), 3, 8h, 8w] float32 in [-1, 1]."""
        state = self.new_stream(z.shape[0], z.shape[-2:], device=z.device)
        return self.decode_block(z, state, per_frame=True)

    def init_random(self, generator=None, std_scale=1.0) -> "WanVAEDecoder":
        """Random weights for tests: N(0, 1/fan_in) kernels, gammas near 1, small biases (float32 draws)."""
        for name, p in self.named_parameters():
            w = torch.randn(p.shape, generator=generator)
            if name.endswith("gamma"):
                w = 1 + 0.1 * w
            elif p.ndim > 1:
                w = w * (std_scale / p[0].numel() ** 0.5)
            else:
                w = 0.02 * w
            with torch.no_grad():
                p.copy_(w)
        return self


# ---- weights ------------------------------------------------------------------------------------------

def vae_state_dict_from_official(sd: dict) -> dict:
    """`Wan2.1_VAE.pth` -> decoder keys: keep conv2.* and decoder.*, drop the encoder side (encoder.*, conv1.*).
    Any other key is kept, so the strict check reports it."""
    return {k: v for k, v in sd.items() if not k.startswith(("encoder.", "conv1."))}


_RESNET_NAMES = {"norm1": "residual.0", "conv1": "residual.2", "norm2": "residual.3", "conv2": "residual.6",
                 "conv_shortcut": "shortcut"}


def _diffusers_key(key: str, stage_len: int) -> str:
    """One diffusers AutoencoderKLWan decoder key -> ours; unknown keys come back unchanged."""
    resnet = lambda name: _RESNET_NAMES.get(name, name)
    rules = (
        (r"post_quant_conv\.(.+)", lambda m: f"conv2.{m[1]}"),
        (r"decoder\.conv_in\.(.+)", lambda m: f"decoder.conv1.{m[1]}"),
        (r"decoder\.mid_block\.resnets\.(\d+)\.(\w+)\.(.+)",
         lambda m: f"decoder.middle.{2 * int(m[1])}.{resnet(m[2])}.{m[3]}"),
        (r"decoder\.mid_block\.attentions\.(\d+)\.(.+)", lambda m: f"decoder.middle.{2 * int(m[1]) + 1}.{m[2]}"),
        # Stage i = up_blocks.i holds stage_len - 1 resnets then upsamplers.0: flat indices in decoder.upsamples.
        (r"decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(\w+)\.(.+)",
         lambda m: f"decoder.upsamples.{stage_len * int(m[1]) + int(m[2])}.{resnet(m[3])}.{m[4]}"),
        (r"decoder\.up_blocks\.(\d+)\.upsamplers\.0\.(.+)",
         lambda m: f"decoder.upsamples.{stage_len * int(m[1]) + stage_len - 1}.{m[2]}"),
        (r"decoder\.norm_out\.(.+)", lambda m: f"decoder.head.0.{m[1]}"),
        (r"decoder\.conv_out\.(.+)", lambda m: f"decoder.head.2.{m[1]}"),
    )
    for pattern, rename in rules:
        m = re.fullmatch(pattern, key)
        if m:
            return rename(m)
    return key


def vae_state_dict_from_diffusers(sd: dict, num_res_blocks: int = 2) -> dict:
    """diffusers AutoencoderKLWan (Wan2.1, non-residual) -> decoder keys; encoder.* and quant_conv.* dropped."""
    return {_diffusers_key(k, num_res_blocks + 2): v for k, v in sd.items()
            if not k.startswith(("encoder.", "quant_conv."))}


def vae_layout(sd: dict) -> str:
    """'diffusers' or 'official', from the key names."""
    marks = ("post_quant_conv.", "decoder.conv_in.", "decoder.mid_block.", "decoder.up_blocks.")
    return "diffusers" if any(k.startswith(marks) for k in sd) else "official"


@dataclass
class PendingFrames:
    """A block's decode as submitted by `SideStreamDecoder`: `frames()` makes the caller's stream wait for
    it and returns [B, Fv, 3, H, W]; `start` and `end` are CUDA events around it on the side stream (None
    on the CPU, where the decode already ran)."""
    _frames: torch.Tensor
    start: object = None
    end: object = None

    def frames(self) -> torch.Tensor:
        if self.end is not None:
            torch.cuda.current_stream().wait_event(self.end)
        return self._frames


class SideStreamDecoder:
    """Decode each block on a second CUDA stream, so the main stream can start the next block's denoising
    at once (the lever "VAE decode overlapped with the next block", BENCHMARKS.md). `submit(latents)` queues
    the decode after the work that made `latents` and returns at once; the frames are read later with
    `PendingFrames.frames()`. Same kernels, same order of blocks on the stream state, so the frames equal a
    serial decode's. Memory: the latents are marked as used by the side stream (the allocator does not hand
    their memory to the main stream before the decode has read them), and the frames as used by the
    stream that reads them. On the CPU it decodes at once (serial)."""

    def __init__(self, vae: WanVAEDecoder, state: VAEStream, per_frame: bool = False):
        self.vae, self.state, self.per_frame = vae, state, per_frame
        device = vae.conv2.weight.device
        self.stream = torch.cuda.Stream(device) if device.type == "cuda" else None

    def submit(self, latents: torch.Tensor) -> PendingFrames:
        if self.stream is None:
            return PendingFrames(self.vae.decode_block(latents, self.state, per_frame=self.per_frame))
        main = torch.cuda.current_stream()
        self.stream.wait_stream(main)
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        with torch.cuda.stream(self.stream):
            start.record()
            frames = self.vae.decode_block(latents, self.state, per_frame=self.per_frame)
            end.record()
        latents.record_stream(self.stream)
        frames.record_stream(main)
        return PendingFrames(frames, start, end)


def load_vae_weights(decoder: WanVAEDecoder, path_or_state_dict, source: str = None) -> WanVAEDecoder:
    """Load Wan2.1 VAE weights (official `Wan2.1_VAE.pth` or diffusers layout, detected) into `decoder`,
    strictly, cast to its dtype. A decoder built on the meta device takes the tensors (assign=True)."""
    if isinstance(path_or_state_dict, (str, Path)):
        source = source or str(path_or_state_dict)
        sd = read_state_dict(path_or_state_dict)
    else:
        source = source or "<state dict>"
        sd = path_or_state_dict
    layout = vae_layout(sd)
    if layout == "diffusers":
        sd = vae_state_dict_from_diffusers(sd, decoder.cfg.num_res_blocks)
    else:
        sd = vae_state_dict_from_official(sd)
    expected = {k: v.shape for k, v in decoder.state_dict().items()}
    check_keys(expected, sd, f"{source} ({layout} VAE layout)")
    dtype = decoder.dtype
    on_meta = decoder.conv2.weight.is_meta
    decoder.load_state_dict({k: v.to(dtype) for k, v in sd.items()}, strict=True, assign=on_meta)
    return decoder


def load_vae_decoder(path_or_state_dict, cfg: VAEConfig = VAEConfig(), dtype=torch.bfloat16,
                     device="cuda") -> WanVAEDecoder:
    """Build on the meta device, load the weights, move to `device` in `dtype` (BF16 as the reference runs)."""
    with torch.device("meta"):
        decoder = WanVAEDecoder(cfg).to(dtype)
    load_vae_weights(decoder, path_or_state_dict)
    return decoder.to(device).eval().requires_grad_(False)

"""Peak GPU memory of a run, estimated before anything is built (issue #5: refuse what cannot fit).

`estimate` adds up, in bytes, what a run holds at its worst moment:
  dit_weights       the DiT's parameters and buffers in the run's dtype; with an int8/fp8 scheme the
                    Linears it quantizes (quant/schemes.py `selected`, names not in `exclude`) at 1 byte a
                    weight plus one float32 scale per output row, their biases unchanged
  kv_cache          RingKVCache: layers x 2 (k, v) x B x local_attn_size slots x frame_tokens x dim
  cross_cache       CrossAttnCache: layers x 2 x B x text_len x dim
  buffers           the pipeline's clean-latent history (re-cache input): B x local_attn_size latent frames
  dit_activations   the transient peak of one model call of the most frames a call runs: a block, or the
                    re-cache of a switch (up to local_attn_size frames when it comes before the window is
                    full; `window` frames later with a global sink, local_attn_size without)
  vae_weights       the decoder's parameters (counted on a meta-device module)
  vae_cache         the causal-conv buffers of a VAEStream (persistent between passes)
  vae_activations   the transient peak of one decode pass: a block of latent frames, or one with vae_per_frame
  text_encoder      the prompt encoder's weights and the transient of one encode call; `generate` frees it
                    before the DiT is built (its peak is then a phase of its own), `live` keeps it resident

  total = max(text-encoder phase, persistent + max(dit_activations, vae_activations[, encoder transient]))

since the DiT's transients are freed before its block is decoded. The activation terms model eager PyTorch
op by op (model/wan.py and model/vae.py as written: which tensors a line keeps alive, float32 copies in
RMSNorm and RoPE, the copies torch.cat and F.pad make); `peak_live_bytes` traces the real code under
FakeTensorMode to check them (tests/test_memory.py). One kernel workspace is added, measured on the H100:
cuDNN's convolutions in the VAE take their input and output again (`vae_pass_bytes`). Not modelled: other
workspaces (cuBLAS, attention kernels: small), allocator rounding, attention=math's score matrix (the
fused kernels keep none), the VAE's middle-attention logits with `output.vae_attention_gemms` (6 bytes per
position pair a frame: 0.23 GiB at 480x832, alive in the middle block only; not measured), torchao's
transient activation quantization, and a channels-last VAE (eager: it measured 1.8 GiB less than NCDHW on the
H100, so the estimate errs high).

torch.compile: Inductor's VAE code keeps more buffers alive than eager. `compiled_vae` scales the VAE's
transient by COMPILED_VAE_FACTOR, measured once on the H100 (2026-11-26, 480x832, batch 1, per-frame,
channels-last: 11.74 GiB measured, persistent 7.84 estimated, so 3.90 GiB of VAE transient against 2.04
modelled) and checked on another configuration (batch 2: 20.70 GiB predicted, 20.65 measured). The
compiled DiT alone stays under the eager estimate (0.4 GiB at batch 1). Why compiled is larger: Inductor
copies each conv's history into its concatenation buffer early in the pass, so those 6-frame buffers of
all full-resolution convs are alive together (allocation trace, BENCHMARKS.md). With the fused norm
kernel (`fused_vae_norm`: compile/vae_kernel.py builds each conv input itself) the compiled transient is
COMPILED_FUSED_VAE_FACTOR of the eager model, calibrated on generate.py on the H100 (2026-11-26, 480x832,
batch 1: 9.11 GiB measured, persistent 7.84, so 1.27 GiB against 2.04 modelled; the VAE alone peaks 1.04
GiB above its held buffers in `benchmarks/vae_bench.py --memory-trace`) and checked on the benchmark's
reference run (9.28 GiB measured with ~0.1 GiB of kept quality frames, 9.10 estimated; FP8 7.97 / 7.82).

The estimate is of allocated memory (`torch.cuda.max_memory_allocated`). What the process reserves from the
driver is more: CUDA graphs keep their pools (the intermediates of a replay are reserved, not allocated,
between replays) and the caching allocator keeps freed blocks. With the DiT and the VAE in CUDA graphs the
H100's BF16 reference run measured 9.01 GiB allocated against 11.88 reserved (10.30 with
`PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True`; BENCHMARKS.md, headline 07:54Z). Not modelled:
`check_fits` compares the allocated estimate with the device's memory less the CUDA context's reserve, so a
graphed run within ~3 GiB of the GPU's capacity may pass the check and still fail to reserve its memory.
"""
import weakref
from dataclasses import dataclass, fields

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from quant.schemes import DEFAULT_EXCLUDE, SCHEMES, selected

from .config import GenerationConfig, ModelConfig
from .vae import CACHE_FRAMES, VAEConfig, WanVAEDecoder
from .wan import CausalWanModel

GiB = 2 ** 30
COMPILED_VAE_FACTOR = 1.91          # compiled / eager VAE transient, measured (see the module docstring)
COMPILED_FUSED_VAE_FACTOR = 0.62    # the same with the fused norm kernel (compile_vae fused_norm), measured
CUDA_CONTEXT_RESERVE = GiB // 2     # kept free for the CUDA context and kernel images when checking the fit
F32 = 4


@dataclass(frozen=True)
class MemoryPlan:
    """Bytes per component (see the module docstring) and the total the run should peak at."""
    dit_weights: int
    kv_cache: int
    cross_cache: int
    buffers: int
    dit_activations: int
    vae_weights: int = 0
    vae_cache: int = 0
    vae_activations: int = 0
    text_encoder: int = 0                 # weights
    text_encoder_activations: int = 0     # one encode call
    text_encoder_resident: bool = False   # kept for the whole run (live prompts)

    @property
    def persistent(self) -> int:
        kept = self.dit_weights + self.kv_cache + self.cross_cache + self.buffers + self.vae_weights + self.vae_cache
        return kept + (self.text_encoder if self.text_encoder_resident else 0)

    @property
    def stream(self) -> int:
        """Peak while the video streams (DiT and VAE built)."""
        transient = max(self.dit_activations, self.vae_activations,
                        self.text_encoder_activations if self.text_encoder_resident else 0)
        return self.persistent + transient

    @property
    def total(self) -> int:
        encoder_phase = 0 if self.text_encoder_resident else self.text_encoder + self.text_encoder_activations
        return max(self.stream, encoder_phase)

    @property
    def total_gib(self) -> float:
        return self.total / GiB

    def components(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "text_encoder_resident"}

    def summary(self) -> str:
        """One line: the total and every non-zero component in GiB."""
        parts = ", ".join(f"{k} {v / GiB:.2f}" for k, v in self.components().items() if v)
        where = "resident" if self.text_encoder_resident else "freed before the DiT loads"
        return f"estimated peak {self.total_gib:.2f} GiB ({parts}; text encoder {where})"

    def describe(self) -> str:
        """A table, one line per component, in GiB."""
        rows = [f"{k:26s} {v / GiB:8.3f} GiB" for k, v in self.components().items()]
        rows += [f"{'persistent':26s} {self.persistent / GiB:8.3f} GiB",
                 f"{'stream peak':26s} {self.stream / GiB:8.3f} GiB",
                 f"{'total':26s} {self.total_gib:8.3f} GiB"]
        return "\n".join(rows)


# ---- the DiT ------------------------------------------------------------------------------------------

def max_call_frames(gen: GenerationConfig, switch_starts=None) -> int:
    """The most latent frames one model call runs (kv_cache.RingKVCache.plan_recache): a block, or the
    re-cache of a switch at block start Fc: every frame so far when Fc <= local_attn_size, later the last
    `window` frames (global sink) or all local_attn_size frames (the sink is rewritten). `switch_starts`:
    the block starts where switches act; None: any block start (live prompts, the compile warm-up)."""
    F, local = gen.num_frame_per_block, gen.local_attn_size
    late = gen.window_size if gen.global_sink else local
    if switch_starts is None:
        return max(F, local // F * F, late)      # local // F * F: the last block start at or before local
    return max([F] + [fc if fc <= local else late for fc in switch_starts])


def dit_activation_bytes(cfg: ModelConfig, batch: int, frames: int, frame_tokens: int, itemsize: int) -> int:
    """Transient peak of one eager model call of `frames` latent frames (model/wan.py AttentionBlock).

    In units of one residual-stream tensor u = B L dim (L = frames x frame_tokens tokens), three moments
    compete; alive at each are the block's input (kept by the caller), `h`, `y` and `x` (locals of
    AttentionBlock.forward), plus the RoPE cos/sin tables [L, 1, head_dim/2] in float32:
      FFN:         input, h, y, x, the FFN input, ffn.0's output and its GELU: 5 u + 2 B L ffn_dim
      RoPE on k:   input, h, q, k, v, k.float(), four half-width float32 products: 5 u + xf + 2 u32
      cross norm_q: input, h, y, x, norm3(x), q, q.float(), the float32 product and its cast: 6 u + xf + u32 + cast
    where u32 = B L dim x 4 bytes, and xf = u32 and cast = u when the dtype is not float32 (`.float()` and
    `.to(dtype)` copy), else 0."""
    L = frames * frame_tokens
    u = batch * L * cfg.dim * itemsize
    u32 = batch * L * cfg.dim * F32
    copy32, cast = (u32, u) if itemsize != F32 else (0, 0)
    ffn = 5 * u + 2 * batch * L * cfg.ffn_dim * itemsize
    rope = 5 * u + copy32 + 2 * u32
    cross_norm = 6 * u + copy32 + u32 + cast
    rope_tables = L * cfg.head_dim * F32          # cos and sin, [L, 1, head_dim / 2] each
    return max(ffn, rope, cross_norm) + rope_tables


def dit_weight_bytes(cfg: ModelConfig, itemsize: int, quant: str = "none", exclude=DEFAULT_EXCLUDE) -> int:
    """Parameters and buffers of a meta-device CausalWanModel; quantized Linears at 1 byte a weight plus
    a float32 scale per output row (per-tensor schemes need less: an upper bound)."""
    with torch.device("meta"):
        model = CausalWanModel(cfg)
    quantized = set(selected(model, exclude)) if quant != "none" else set()
    total = sum(b.numel() * F32 for b in model.buffers())            # RoPE tables
    for name, p in model.named_parameters():
        module = name.rsplit(".", 1)[0]
        if module in quantized and name.endswith(".weight"):
            total += p.numel() + p.shape[0] * F32
        else:
            total += p.numel() * itemsize
    return total


# ---- the VAE ------------------------------------------------------------------------------------------

def vae_pass_bytes(cfg: VAEConfig, batch: int, latent_hw, frames: int, first: bool, itemsize: int,
                   conv_workspace: bool = True) -> int:
    """Transient peak of one eager decode pass of `frames` latent frames (model/vae.py), walking the
    decoder's layers. At each layer its input is kept by the caller; inside, what model/vae.py keeps:
      ResidualBlock  the shortcut's output (a 1x1x1 conv when widths differ: F.pad copies, then the conv),
                     RMSNorm's two products, SiLU, torch.cat(buffer, x) (T + 2 frames) and its F.pad
                     (1 pixel each side), the conv's output; then `x + h`
      AttentionBlock the (B T, C, H, W) copy, to_qkv's output and its contiguous transpose, SDPA's output,
                     the reshape copy and proj (an upper bound: with B = 1 the first copy is a view)
      Upsample       time_conv (cat, pad, conv to 2C, the interleaving copy), then the (B T, C, H, W) copy
                     (a view when B = 1), nearest 2x (4 units) and the conv to C/2 (2 units), alive together
      head           RMSNorm, SiLU, the last conv's cat and pad; then the float32 output.
    `conv_workspace`: cuDNN's workspace for every convolution with a kernel wider than 1, its input and its
    output again (layout transposes of NCDHW / NCHW; measured per convolution on the H100, cuDNN 9.19,
    BF16: 0.717 GiB for a 0.431 GiB input and a 0.286 GiB output). False for a CPU trace."""
    ws = 1 if conv_workspace else 0
    h, w = latent_hw
    dims = [cfg.dim * m for m in (cfg.dim_mult[-1], *reversed(cfg.dim_mult))]

    def size(c, t, s, pad=0):
        return batch * c * t * (h * s + pad) * (w * s + pad) * itemsize

    peak = 0

    def at(held, transient):
        nonlocal peak
        peak = max(peak, held + transient)

    def causal_conv(c_in, c_out, t, s, held, extra=0):
        """A 3x3x3 CausalConv3d on an input of `held` bytes with `extra` bytes kept beside it."""
        cat, pad, out = size(c_in, t + CACHE_FRAMES, s), size(c_in, t + CACHE_FRAMES, s, 2), size(c_out, t, s)
        at(held, extra + cat + pad)
        at(held, extra + (pad + out) * (1 + ws))

    def residual(c_in, c_out, t, s, held):
        u_in, u_out = size(c_in, t, s), size(c_out, t, s)
        short = 0
        if c_in != c_out:                             # 1x1x1 conv: F.pad(x, 0) copies
            at(held, 2 * u_in)
            at(held, u_in + u_out)
            short = u_out
        at(held, short + 2 * u_in)                    # RMSNorm: x / |x|, * scale, * gamma
        causal_conv(c_in, c_out, t, s, held, short + u_in)          # SiLU output + conv
        at(held, short + 3 * u_out)                   # RMSNorm of the conv output (its input alive)
        causal_conv(c_out, c_out, t, s, held, short + u_out)
        at(held, short + 2 * u_out)                   # conv output + (x + h)
        return u_out

    def attention(c, t, s, held):
        u = size(c, t, s)
        at(held, 9 * u)
        return u

    def upsample(c, temporal, t, s, held):
        doubled = 0
        if temporal:
            rest = t - 1 if first else t
            if rest:
                cat, pad, out = (size(c, rest + CACHE_FRAMES, s), size(c, rest + CACHE_FRAMES, s),
                                 size(2 * c, rest, s))
                at(held, cat + pad)
                at(held, (pad + out) * (1 + ws))
                at(held, 2 * out + (size(c, 2 * rest + 1, s) if first else 0))
            t = 2 * rest + (1 if first else 0)
            doubled = size(c, t, s)
        u = size(c, t, s)
        copy = u if batch > 1 else 0                  # x.transpose(1, 2).reshape(B T, ...): a view when B = 1
        at(held, doubled + copy + (4 * u + 2 * u) * (1 + ws))   # nearest 2x, conv to C/2
        return t, 2 * u                               # output: C/2 channels at 2x the size

    z = size(cfg.z_dim, frames, 1)
    at(0, 3 * z)                                      # unnormalize: z / (1 / std), + mean
    at(z, 2 * z + z)                                  # conv2 (1x1x1): pad copy, conv
    t, s, c = frames, 1, dims[0]
    held = z
    causal_conv(cfg.z_dim, c, t, s, held)
    held = size(c, t, s)
    held = residual(c, c, t, s, held)
    held = attention(c, t, s, held)
    held = residual(c, c, t, s, held)
    in_dim = c
    for i, out_dim in enumerate(dims[1:]):
        for _ in range(cfg.num_res_blocks + 1):
            held = residual(in_dim, out_dim, t, s, held)
            in_dim = out_dim
        if i < len(dims) - 2:
            t, held = upsample(out_dim, cfg.temporal_upsample[i], t, s, held)
            s, in_dim = 2 * s, out_dim // 2
    u = size(in_dim, t, s)
    at(held, 2 * u)                                   # head: RMSNorm
    causal_conv(in_dim, 3, t, s, held, u)             # SiLU output + the last conv
    out = batch * 3 * t * (h * s) * (w * s)
    at(0, out * itemsize + 2 * out * F32)             # conv output, .float(), clamp
    return peak


def vae_decode_bytes(cfg: VAEConfig, batch: int, latent_hw, frames: int, per_frame: bool, first: bool,
                     itemsize: int, conv_workspace: bool = True) -> int:
    """Transient peak of `WanVAEDecoder.decode_block` on `frames` latent frames: one pass, or with
    `per_frame` one pass per frame, the float32 outputs of the earlier passes kept for the final torch.cat."""
    if not per_frame or frames == 1:
        return vae_pass_bytes(cfg, batch, latent_hw, frames, first, itemsize, conv_workspace)
    h, w = latent_hw
    s = cfg.spatial_factor
    out_frames = [1 if first and i == 0 else cfg.temporal_factor for i in range(frames)]
    frame_bytes = batch * 3 * h * s * w * s * F32
    passes = [vae_pass_bytes(cfg, batch, latent_hw, 1, first and i == 0, itemsize, conv_workspace)
              + sum(out_frames[:i]) * frame_bytes for i in range(frames)]
    return max(*passes, 2 * sum(out_frames) * frame_bytes)


def vae_weight_bytes(cfg: VAEConfig, itemsize: int) -> int:
    with torch.device("meta"):
        vae = WanVAEDecoder(cfg)
    return sum(p.numel() for p in vae.parameters()) * itemsize


def vae_cache_bytes(cfg: VAEConfig, batch: int, latent_hw, itemsize: int) -> int:
    """The VAEStream buffers: [B, C_in, 2, h s, w s] per causal conv (model/vae.py `new_stream`)."""
    with torch.device("meta"):
        vae = WanVAEDecoder(cfg)
    h, w = latent_hw
    return sum(batch * m.in_channels * CACHE_FRAMES * h * m.hw_scale * w * m.hw_scale * itemsize
               for _, m in vae.cached_convs())


# ---- the text encoder ---------------------------------------------------------------------------------

def text_encoder_bytes(size, itemsize: int, prompts: int, text_len: int) -> tuple:
    """(weights, one encode call's transient) of a UMT5 encoder (model/umt5.py T5Size): the token table
    (tied, stored once), per layer q/k/v/o, the gated FFN, two norms and a position bias, the final norm.
    The transient is the attention of eager UMT5 (transformers): scores [n, heads, L, L] in the dtype and
    their float32 softmax, plus the per-call position bias [1, heads, L, L]; within 10% of the FakeTensorMode
    trace of UMT5-XXL for 1 and 6 prompts (tests/test_memory.py)."""
    inner = size.num_heads * size.head_dim
    per_layer = 4 * size.dim * inner + 3 * size.dim * size.ffn_dim + 2 * size.dim + size.num_buckets * size.num_heads
    weights = (size.vocab_size * size.dim + size.num_layers * per_layer + size.dim) * itemsize
    heads, L = size.num_heads, text_len
    return weights, (prompts * (itemsize + F32) + itemsize) * heads * L * L


# ---- the plan -----------------------------------------------------------------------------------------

def estimate(model_cfg: ModelConfig, gen: GenerationConfig, batch: int, latent_hw, dtype,
             quant: str = "none", vae: bool = True, vae_per_frame: bool = False, text_len: int = None,
             vae_cfg: VAEConfig = VAEConfig(), quant_exclude=DEFAULT_EXCLUDE, text_encoder=None,
             text_encoder_dtype=None, text_encoder_resident: bool = False, prompts_per_encode: int = 1,
             conv_workspace: bool = True, switch_starts=None, compiled_vae: bool = False,
             fused_vae_norm: bool = False) -> MemoryPlan:
    """The memory plan of a run: `batch` samples of latent frames `latent_hw` = (h, w) in `dtype`.
    `text_encoder` is a model/umt5.py T5Size (None: not counted), in `text_encoder_dtype` (default `dtype`);
    `conv_workspace` counts cuDNN's convolution workspace in the VAE (`vae_pass_bytes`); `switch_starts`
    (block starts of the prompt switches, None: anywhere) sizes the largest model call (`max_call_frames`);
    `compiled_vae` scales the VAE transient by COMPILED_VAE_FACTOR (torch.compile's decoder), or by
    COMPILED_FUSED_VAE_FACTOR with `fused_vae_norm` (its fused norm kernel)."""
    if quant not in SCHEMES:
        raise ValueError(f"quant: {quant!r} is not one of {list(SCHEMES)}")
    isz = torch.empty((), dtype=dtype).element_size()
    text_len = model_cfg.text_len if text_len is None else text_len
    h, w = latent_hw
    ph, pw = model_cfg.patch_size[1:]
    frame_tokens = (h // ph) * (w // pw)
    local = gen.local_attn_size
    layer_row = model_cfg.num_layers * 2 * batch * model_cfg.dim * isz       # one token of k and v, all layers
    plan = dict(
        dit_weights=dit_weight_bytes(model_cfg, isz, quant, quant_exclude),
        kv_cache=layer_row * local * frame_tokens,
        cross_cache=layer_row * text_len,
        buffers=batch * local * model_cfg.in_dim * h * w * isz,
        dit_activations=dit_activation_bytes(model_cfg, batch, max_call_frames(gen, switch_starts), frame_tokens,
                                             isz),
    )
    if vae:
        F = gen.num_frame_per_block
        plan.update(vae_weights=vae_weight_bytes(vae_cfg, isz),
                    vae_cache=vae_cache_bytes(vae_cfg, batch, latent_hw, isz),
                    vae_activations=max(vae_decode_bytes(vae_cfg, batch, latent_hw, F, vae_per_frame, first, isz,
                                                         conv_workspace) for first in (True, False)))
        if compiled_vae:
            factor = COMPILED_FUSED_VAE_FACTOR if fused_vae_norm else COMPILED_VAE_FACTOR
            plan["vae_activations"] = int(plan["vae_activations"] * factor)
    if text_encoder is not None:
        tisz = torch.empty((), dtype=text_encoder_dtype or dtype).element_size()
        weights, act = text_encoder_bytes(text_encoder, tisz, prompts_per_encode, text_len)
        plan.update(text_encoder=weights, text_encoder_activations=act, text_encoder_resident=text_encoder_resident)
    return MemoryPlan(**plan)


def check_fits(plan: MemoryPlan, device_bytes: int, device_name: str = "the GPU", fixes=(),
               reserve: int = CUDA_CONTEXT_RESERVE) -> None:
    """Raise ValueError (one line) when the plan's total exceeds `device_bytes` minus `reserve`."""
    usable = device_bytes - reserve
    if plan.total <= usable:
        return
    fix = ", ".join(fixes) if fixes else "a smaller configuration"
    raise ValueError(f"memory: this configuration needs about {plan.total_gib:.1f} GiB (estimate; "
                     f"{_largest(plan)}) but {device_name} has {device_bytes / GiB:.1f} GiB, of which "
                     f"{reserve / GiB:.1f} are kept for the CUDA context; try {fix}, or memory_check=false "
                     "to run anyway")


def _largest(plan: MemoryPlan, n: int = 3) -> str:
    top = sorted(plan.components().items(), key=lambda kv: -kv[1])[:n]
    return ", ".join(f"{k} {v / GiB:.1f}" for k, v in top)


# ---- measuring: the live-tensor tracer ----------------------------------------------------------------

class _PeakLive(TorchDispatchMode):
    """Counts the storages that ops create while active, until each is freed (weakref finalizers)."""

    def __init__(self):
        super().__init__()
        self.live, self.now, self.peak = {}, 0, 0

    def _free(self, key):
        self.now -= self.live.pop(key)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = {t.untyped_storage()._cdata for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)}
        for t in tree_flatten(out)[0]:
            if not isinstance(t, torch.Tensor):
                continue
            storage = t.untyped_storage()
            key = storage._cdata
            if key in inputs or key in self.live:       # a view or an in-place result: nothing new
                continue
            self.live[key] = storage.nbytes()
            self.now += self.live[key]
            weakref.finalize(storage, self._free, key)
        self.peak = max(self.peak, self.now)
        return out


def peak_live_bytes(fn, *args, **kwargs) -> tuple:
    """(fn's result, the peak bytes of tensor storages created inside fn and alive at once). Tensors made
    before the call (weights, caches) are not counted; run it under FakeTensorMode to trace full-size
    shapes without computing (fake storages report their sizes)."""
    mode = _PeakLive()
    with mode:
        result = fn(*args, **kwargs)
    return result, mode.peak


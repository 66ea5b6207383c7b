"""What one streamed VAE block must move and compute, counted on the meta device (no GPU, no arithmetic).

    python benchmarks/vae_bytes.py                       # Wan2.1 VAE, 480x832, a steady block of 3 latent frames
    python benchmarks/vae_bytes.py --profile benchmarks/results/2026-11-26T0424Z_h100_vae_profile_cudnn_benchmark.json

The decoder (BF16, channels-last, one latent frame per pass: the defaults of generate.py) decodes a block
after the stream's first under a dispatch mode that records every ATen call: the bytes of its tensor
inputs (read) and outputs (written), and for convolutions the FLOPs (2 x output elements x input
channels per group x kernel volume). Calls are grouped by where they happen: convolution, norm
(RMSNorm), activation (SiLU), copies and cache (a causal conv's concatenation with its history, the
history copy and the spatial padding; reshapes that copy), upsampling (nearest 2x), attention (the
mid-block attention around its 1x1 convs), other (residual adds, the latent scaling, the output cast).

Two byte counts for everything that is not a convolution:
- unfused: the sum over those ATen calls, what eager PyTorch moves;
- floor: every convolution's output read once and every convolution's new input (without the history
  frames a ring buffer could serve in place) written once. Whatever fuses the elementwise work between
  two convolutions into one pass still has to do that, so at the H100's ~3 TB/s it is a lower bound on
  the non-convolution time.
With `--profile ROW` (a `vae_bench.py --profile` JSON) the measured kernel times of the same block are
set beside them. Prints a table last; `--out` writes the counts as JSON.
"""
import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import torch
import torch.nn as nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from model.vae import VAE_PRESETS, AttentionBlock, CausalConv3d, RMSNorm, WanVAEDecoder  # noqa: E402

F = 3                     # latent frames per block
HW = (60, 104)            # latent height, width at 480x832
BANDWIDTH_TBS = 3.0       # what the H100's best memory-bound kernels reach (3.35 TB/s peak)
CLASSES = ("convolution", "norm", "activation", "copies and cache", "upsampling", "attention", "other")
# Calls that make views or metadata only: nothing moves.
VIEWS = {"view", "_unsafe_view", "reshape", "permute", "transpose", "t", "expand", "unsqueeze", "squeeze",
         "slice", "select", "as_strided", "alias", "detach", "split", "split_with_sizes", "chunk", "unbind",
         "empty", "empty_like", "empty_strided", "lift_fresh"}


def nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


class BlockCounter(TorchDispatchMode):
    """Per class: ATen calls, bytes read, bytes written, FLOPs; the class follows the innermost module."""

    def __init__(self):
        super().__init__()
        self.where = []                      # stack of module classes being run
        self.rows = defaultdict(lambda: {"calls": 0, "read": 0, "written": 0, "flops": 0})
        self.floor_bytes = 0                 # convolution outputs + new inputs (module hooks)

    def klass(self, op: str) -> str:
        if "convolution" in op:
            return "convolution"
        inner = self.where[-1] if self.where else None
        if inner is RMSNorm:
            return "norm"
        if inner is nn.SiLU:
            return "activation"
        if inner is nn.Upsample:
            return "upsampling"
        if AttentionBlock in self.where:
            return "attention"
        if inner is CausalConv3d or op in ("clone", "cat", "copy_", "constant_pad_nd"):
            return "copies and cache"
        return "other"

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        op = func.overloadpacket.__name__
        if op in VIEWS:
            return out
        row = self.rows[self.klass(op)]
        inputs = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        outputs = [t for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)]
        if op == "copy_":                    # dst is written, not read
            inputs = inputs[1:]
        row["calls"] += 1
        row["read"] += sum(nbytes(t) for t in inputs)
        row["written"] += sum(nbytes(t) for t in outputs)
        if op == "convolution":
            x, w = args[0], args[1]
            groups = args[8] if len(args) > 8 else 1
            row["flops"] += 2 * outputs[0].numel() * (x.shape[1] // groups) * w[0, 0].numel()
        return out


def count_block(vae: WanVAEDecoder, batch: int = 1, hw=HW, frames: int = F) -> BlockCounter:
    """Count a block of `frames` latent frames after the stream's first (per-frame passes), on meta."""
    counter = BlockCounter()
    hooks = []
    for m in vae.modules():
        hooks.append(m.register_forward_pre_hook(lambda mod, a: counter.where.append(type(mod))))
        hooks.append(m.register_forward_hook(lambda mod, a, o: counter.where.pop() and None))  # None: keep o
        if isinstance(m, (nn.Conv3d, nn.Conv2d)):
            # the new input (a causal conv's history excluded) and the output cross the memory once each
            hooks.append(m.register_forward_hook(
                lambda mod, a, o: setattr(counter, "floor_bytes", counter.floor_bytes + nbytes(a[0]) + nbytes(o))))
    state = vae.new_stream(batch, hw)
    z = torch.zeros(batch, 1, vae.cfg.z_dim, *hw, dtype=vae.dtype, device="meta")
    with torch.no_grad():
        vae.decode_block(z, state)           # the stream's first latent frame: not counted
        counter.floor_bytes = 0
        with counter:
            vae.decode_block(z.expand(batch, frames, *z.shape[2:]), state, per_frame=True)
    for h in hooks:
        h.remove()
    return counter


def build(preset: str = "wan2_1", channels_last: bool = True, pad_in_conv: bool = False) -> WanVAEDecoder:
    with torch.device("meta"):
        vae = WanVAEDecoder(VAE_PRESETS[preset]).to(torch.bfloat16).eval()
    vae.pad_space_in_conv(pad_in_conv)
    return vae.to_channels_last() if channels_last else vae


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="wan2_1", choices=sorted(VAE_PRESETS))
    ap.add_argument("--ncdhw", action="store_true", help="the default layout instead of channels-last")
    ap.add_argument("--convpad", action="store_true", help="convolutions pad height and width themselves "
                    "(WanVAEDecoder.pad_space_in_conv)")
    ap.add_argument("--profile", default=None, help="a vae_bench.py --profile JSON: measured times beside the counts")
    ap.add_argument("--out", default=None, help="write the counts as JSON here")
    args = ap.parse_args()
    counter = count_block(build(args.preset, not args.ncdhw, args.convpad))
    rows = {k: counter.rows[k] for k in CLASSES if k in counter.rows}
    conv = rows["convolution"]
    non_conv = sum(r["read"] + r["written"] for k, r in rows.items() if k != "convolution")
    measured = {}
    if args.profile:
        prof = json.loads(Path(args.profile).read_text())["rows"][0]["profile"]
        measured = {k: v["ms"] for k, v in prof["classes"].items()}
    gb = 1e9
    print(f"Wan2.1 VAE ({args.preset}), {'NCDHW' if args.ncdhw else 'NDHWC'}, BF16, one steady block of {F} latent "
          f"frames at {HW[0] * 8}x{HW[1] * 8}, one latent frame a pass, spatial padding "
          f"{'in the convolutions' if args.convpad else 'as a copy'} (counted on the meta device)")
    print(f"{'class':<18} {'calls':>6} {'GB read':>9} {'GB written':>10} {'TFLOP':>7} {'measured ms':>11}")
    for k, r in rows.items():
        ms = f"{measured[k]:.1f}" if k in measured else "-"
        print(f"{k:<18} {r['calls']:6d} {r['read'] / gb:9.2f} {r['written'] / gb:10.2f} {r['flops'] / 1e12:7.2f} {ms:>11}")
    floor_ms = counter.floor_bytes / (BANDWIDTH_TBS * 1e12) * 1e3
    print(f"\nnon-convolution bytes: unfused {non_conv / gb:.2f} GB ({non_conv / (BANDWIDTH_TBS * 1e9):.1f} ms at "
          f"{BANDWIDTH_TBS} TB/s); floor {counter.floor_bytes / gb:.2f} GB ({floor_ms:.1f} ms)")
    if measured:
        conv_ms = measured.get("convolution", float("nan"))
        rest = sum(v for k, v in measured.items() if k != "convolution")
        print(f"measured: convolutions {conv_ms:.1f} ms ({conv['flops'] / conv_ms / 1e9:.0f} TFLOP/s), the rest "
              f"{rest:.1f} ms ({non_conv / rest / 1e9:.2f} TB/s of the unfused bytes, "
              f"{counter.floor_bytes / rest / 1e9:.2f} TB/s of the floor's)")
    if args.out:
        Path(args.out).write_text(json.dumps({"preset": args.preset, "channels_last": not args.ncdhw,
                                              "pad_in_conv": args.convpad,
                                              "frames": F, "latent_hw": HW, "classes": rows,
                                              "non_conv_unfused_bytes": non_conv,
                                              "non_conv_floor_bytes": counter.floor_bytes,
                                              "measured_ms": measured}, indent=1))


if __name__ == "__main__":
    main()

"""Every convolution of one steady streaming VAE pass, timed alone (one GPU): which convs cost what.

    python benchmarks/vae_conv_bench.py [--json PATH]

Records the convolution calls of one steady pass (one latent frame, 480x832, the stream's second) of Wan2.1's
VAE decoder with random BF16 weights in the compiled path's layout: channels-last, padding in the conv,
sub-pixel upsampling (`WanVAEDecoder.pad_space_in_conv`, `subpixel_upsample`). Then times each distinct
call alone (random channels-last inputs of its shapes, cuDNN's timed algorithm choice as the pipeline runs it,
CUDA events, 5 warm-up calls, median of 20): us per call, calls per pass, achieved TFLOP/s (2 x output
elements x input channels x kernel taps), and whether the eager pass fed it channels-last (after the
sub-pixel upsampling it does not: cuDNN converts). The head conv (96 -> 3 channels) is timed again with its weight
padded with zero output channels to 8 .. 128 and the first 3 kept (`CausalConv3d.out_pad`), and against its
unpadded output, and every other conv whose output channels are not a multiple of 128 padded up to one (what
`WanVAEDecoder.pad_conv_channels` does to the 96-channel ones). Prints one table; `--json` writes the rows.
"""
import argparse
import json
import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from model.vae import VAE_PRESETS, WanVAEDecoder  # noqa: E402
from benchmarks.cuda_timing import event_median_us  # noqa: E402

HW = (60, 104)
CONVS = {F.conv3d: 3, F.conv2d: 2}


class RecordConvs(TorchFunctionMode):
    """Records (dims, input shape, input strides, weight shape, stride, padding) of every conv call."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in CONVS:
            x, w = args[0], args[1]
            stride = args[3] if len(args) > 3 else kwargs.get("stride", 1)
            padding = args[4] if len(args) > 4 else kwargs.get("padding", 0)
            self.calls.append((CONVS[func], tuple(x.shape), tuple(x.stride()), tuple(w.shape),
                               _tuple(stride, CONVS[func]), _tuple(padding, CONVS[func])))
        return func(*args, **kwargs)


def _tuple(v, n):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


def conv_fn(dims):
    return F.conv3d if dims == 3 else F.conv2d


def time_call(dims, xshape, wshape, stride, padding, out_pad=0):
    """us per call, output, TFLOP of the useful output channels; `out_pad`: zero output channels up to it."""
    fmt = torch.channels_last_3d if dims == 3 else torch.channels_last
    x = torch.randn(xshape, device="cuda", dtype=torch.bfloat16).contiguous(memory_format=fmt)
    w = torch.randn(wshape, device="cuda", dtype=torch.bfloat16).contiguous(memory_format=fmt) / math.sqrt(
        math.prod(wshape[1:]))
    co = wshape[0]
    if out_pad > co:
        wp = torch.cat([w, w.new_zeros((out_pad - co, *wshape[1:]))]).contiguous(memory_format=fmt)
        run = lambda: conv_fn(dims)(x, wp, None, stride, padding)[:, :co]   # noqa: E731
    else:
        run = lambda: conv_fn(dims)(x, w, None, stride, padding)          # noqa: E731
    us = event_median_us(run)
    out = run()
    flop = 2 * out.numel() * math.prod(wshape[1:])
    ref = conv_fn(dims)(x, w, None, stride, padding)
    return us, flop / 1e12, (out.float() - ref.float()).abs().max().item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    args = ap.parse_args()
    torch.backends.cudnn.benchmark = True
    vae = WanVAEDecoder(VAE_PRESETS["wan2_1"]).init_random(torch.Generator().manual_seed(0))
    vae = vae.to(torch.bfloat16).cuda().eval().requires_grad_(False).to_channels_last()
    vae.pad_space_in_conv(True).subpixel_upsample(True)
    state = vae.new_stream(1, HW)
    z = torch.randn(1, 2, 16, *HW, device="cuda", dtype=torch.bfloat16)
    rec = RecordConvs()
    with torch.no_grad():
        vae.decode_block(z[:, :1], state)
        with rec:
            vae.decode_block(z[:, 1:], state)
    del vae, state
    torch.cuda.empty_cache()
    counts, eager_cl = {}, {}
    for dims, xs, xst, ws, st, pad in rec.calls:
        key = (dims, xs, ws, st, pad)
        counts[key] = counts.get(key, 0) + 1
        fmt = torch.channels_last_3d if dims == 3 else torch.channels_last
        cl = torch.empty_strided(xs, xst, device="meta").is_contiguous(memory_format=fmt)
        eager_cl[key] = eager_cl.get(key, True) and cl
    rows = []
    with torch.no_grad():
        for (dims, xs, ws, st, pad), n in counts.items():
            us, tflop, _ = time_call(dims, xs, ws, st, pad)
            rows.append({"dims": dims, "input": xs, "weight": ws, "padding": pad, "calls_per_pass": n, "us": us,
                         "eager_input_channels_last": eager_cl[(dims, xs, ws, st, pad)],
                         "tflop": tflop, "tflops": tflop / us * 1e6, "ms_per_pass": n * us / 1e3})
        head = [r for r in rows if r["weight"][0] == 3]
        padded = []
        for r in head:
            key = next(k for k in counts if k[2] == r["weight"] and k[1] == r["input"])
            for out_pad in (8, 16, 32, 64, 128):
                us, tflop, diff = time_call(*key, out_pad=out_pad)
                padded.append({"out_pad": out_pad, "us": us, "tflops": tflop / us * 1e6, "max_abs_diff": diff,
                               "input": r["input"]})
        for r in rows:           # output channels not a multiple of 128 (the head aside): padded up to one
            co = r["weight"][0]
            if co == 3 or co % 128 == 0:
                continue
            key = next(k for k in counts if k[2] == r["weight"] and k[1] == r["input"])
            us, tflop, diff = time_call(*key, out_pad=-(-co // 128) * 128)
            r["padded_to_128"] = {"out_pad": -(-co // 128) * 128, "us": us, "tflops": tflop / us * 1e6,
                                  "max_abs_diff": diff}
    rows.sort(key=lambda r: -r["ms_per_pass"])
    out = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "cudnn": torch.backends.cudnn.version(),
           "latent_hw": HW, "convs": rows, "head_out_pad": padded,
           "ms_per_pass": sum(r["ms_per_pass"] for r in rows)}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    print(f"{out['device']}, convolutions of one steady VAE pass (1 latent frame, 480x832), each alone, "
          f"cuDNN timed: {out['ms_per_pass']:.2f} ms a pass")
    print(f"{'input':28s} {'weight':22s} {'calls':>5s} {'us':>8s} {'TFLOP/s':>8s} {'ms/pass':>8s} eager NDHWC")
    for r in rows:
        print(f"{str(r['input']):28s} {str(r['weight']):22s} {r['calls_per_pass']:5d} {r['us']:8.1f} "
              f"{r['tflops']:8.1f} {r['ms_per_pass']:8.2f} {r['eager_input_channels_last']}")
    for r in rows:
        if "padded_to_128" in r:
            q = r["padded_to_128"]
            print(f"{str(r['input'])} {str(r['weight'])}, output channels padded to {q['out_pad']}: {q['us']:8.1f} us "
                  f"{q['tflops']:6.1f} TFLOP/s (useful) against {r['us']:.1f} us, max abs diff {q['max_abs_diff']:.2e}")
    for p in padded:
        print(f"head conv, output channels padded to {p['out_pad']:3d}: {p['us']:8.1f} us  {p['tflops']:6.1f} TFLOP/s "
              f"(useful), max abs diff vs unpadded {p['max_abs_diff']:.2e}")


if __name__ == "__main__":
    main()

"""Time lever ln's kernel (compile/norm_kernel.py) alone on the GPU against Inductor's compile of the same
block code (compile/norm_kernel.add_norm_reference, as the regional compile sees it), at the block's three
LayerNorm sites with the steady shape of the reference run (1 sample, 3 frames of 1560 tokens, C = 1536, BF16).
Each variant's 20 calls are captured in one CUDA graph and the replays timed (CUDA events, 3 warm-up replays,
median of 20, per call): as the model runs them, without the host's launch cost (the first version timed
single eager calls between events, 66-110 us each: the host's launches, not the kernels; its 10:58Z row says
so). MB moved per call (inputs read once, outputs written once). Prints one table; `--json PATH` writes the rows.
`--fp8`: the same sites with the output quantized row-wise to e4m3 as torchao's fp8dq_row does (lever ln on the
FP8 path: norm_kernel.add_norm_fp8 against Inductor's compile of add_norm_fp8_reference, the block code followed
by torchao's quantization, which is what Inductor fuses in the FP8 model).

    python benchmarks/ln_bench.py [--fp8]
"""
import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from compile.norm_kernel import add_norm, add_norm_fp8, add_norm_fp8_reference, add_norm_reference  # noqa: E402
from model.wan import LayerNorm  # noqa: E402
from benchmarks.cuda_timing import graph_median_us  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    ap.add_argument("--fp8", action="store_true")
    args = ap.parse_args()
    kernel, reference = (add_norm_fp8, add_norm_fp8_reference) if args.fp8 else (add_norm, add_norm_reference)
    b, f, t, c = 1, 3, 1560, 1536
    g = torch.Generator(device="cuda").manual_seed(0)
    x = torch.randn(b, f * t, c, device="cuda", generator=g).to(torch.bfloat16)
    y = torch.randn(b, f * t, c, device="cuda", generator=g).to(torch.bfloat16)
    m = (torch.randn(b, f, 6, 1, c, device="cuda", generator=g) * 0.3).to(torch.bfloat16)
    shift, scale, gate = m[:, :, 0], m[:, :, 1], m[:, :, 2]
    plain = LayerNorm(c, 1e-6).cuda().to(torch.bfloat16)
    affine = LayerNorm(c, 1e-6, affine=True).cuda().to(torch.bfloat16)
    o = 0.5 if args.fp8 else 1                   # the normalised output's size in BF16 rows (e4m3: half)
    sites = {"norm1 + modulation": ((x, None, None, plain, scale, shift), 1 + o),
             "gated residual + norm3 (affine)": ((x, y, gate, affine, None, None), 3 + o),
             "residual + norm2 + modulation": ((x, y, None, plain, scale, shift), 3 + o)}
    inductor = torch.compile(reference, dynamic=False)

    def flat(r):                                 # (x', out) or (x', (data, scales)) -> float tensors
        return [t.float() for t in (r[0], *(r[1] if isinstance(r[1], tuple) else (r[1],)))]
    rows = []
    with torch.no_grad():
        for name, (a, tensors) in sites.items():
            mb = tensors * x.numel() * x.element_size() / 1e6
            ui = graph_median_us(lambda: inductor(*a, f))
            uk = graph_median_us(lambda: kernel(*a, f))
            diff = max((p - q).abs().max().item() for p, q in zip(flat(inductor(*a, f)), flat(kernel(*a, f))))
            rows.append({"site": name, "mb": mb, "inductor_us": ui, "kernel_us": uk, "inductor_tb_s": mb / ui,
                         "kernel_tb_s": mb / uk, "max_abs_diff": diff})
    out = {"device": torch.cuda.get_device_name(), "shape": [b, f * t, c], "fp8": args.fp8, "rows": rows}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    print(f"{out['device']}: residual + LayerNorm + modulation, [{b}, {f * t}, {c}] BF16"
          + (", output quantized to e4m3 by rows" if args.fp8 else ""))
    for r in rows:
        print(f"{r['site']:34s} {r['mb']:5.1f} MB  Inductor {r['inductor_us']:6.1f} us ({r['inductor_tb_s']:.2f} TB/s)"
              f"  kernel {r['kernel_us']:6.1f} us ({r['kernel_tb_s']:.2f} TB/s)  max abs diff {r['max_abs_diff']:.1e}")


if __name__ == "__main__":
    main()

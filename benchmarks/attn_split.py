"""FA3 with its keys split into parts (`num_splits`) against one part, at the model's attention shapes.

    python benchmarks/attn_split.py [--out benchmarks/results] [--reps 30]

Why: the steady-state self-attention (batch 1, 4680 queries x 18720 keys, 12 heads of 128) runs as 37 query
tiles x 12 heads = 444 CTAs, one per SM at a time: on 132 SMs that is 4 waves with the last a third full.
Splitting the keys in 2 gives 888 half-length CTAs (6.7 waves) at the cost of float32 partials combined by
a second kernel. compile/backends.fa3_num_splits predicts the best split from a cost model; this measures
every split 1-4 at each shape the model meets (the window's fill levels, the re-cache's queries, the text
cross-attention, batch 2 and 4), plus a split of our own for batch 1: the two key halves as a batch of 2
(free views of the cache) and the halves' outputs merged with their log-sum-exp, eager and compiled; and lever
`waves` (compile/backends.fa3_wave_plan): the query tiles of the whole waves in one call with all keys, the
remaining tiles' keys split in 2 or 3 (the plan's main rows, at shapes with a plan).

Per variant: median ms over `--reps` CUDA-event-timed eager calls after 5 warm-up calls (the host's launch
included where the GPU waits for it: the FA3 wheel's Python wrapper costs more than the C++ op the waves variant
calls), per call of 10 calls replayed from one CUDA graph (`graph_ms`), and the same with a one-element PyTorch
kernel before each call, its own time subtracted (`fenced_ms`: the table's TFLOP/s and ratios use it). The fence
tests whether back-to-back FA3 calls overlap (its kernels use programmatic dependent launch), which the model,
a Triton or cuBLAS kernel between two attention calls, would not allow: on the H100 (16:08Z) fenced and unfenced
agree within 2%, so they do not. Max abs and relative L2 difference from the unsplit output, and the heuristic's
pick.
Prints a table last and writes attn_split.json to --out.
"""
import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.cuda_timing import graph_median_us  # noqa: E402
from compile.backends import fa3_num_splits, fa3_wave_plan  # noqa: E402

FRAME = 1560          # tokens per latent frame at 480x832
SHAPES = [            # (what, batch, queries, keys)
    ("self, window full", 1, 3 * FRAME, 12 * FRAME),
    ("self, fill 9 frames", 1, 3 * FRAME, 9 * FRAME),
    ("self, fill 6 frames", 1, 3 * FRAME, 6 * FRAME),
    ("self, fill 3 frames", 1, 3 * FRAME, 3 * FRAME),
    ("re-cache, 9 frames", 1, 9 * FRAME, 12 * FRAME),
    ("cross, 512 text rows", 1, 3 * FRAME, 512),
    ("self, batch 2", 2, 3 * FRAME, 12 * FRAME),
    ("self, batch 4", 4, 3 * FRAME, 12 * FRAME),
]
H, D = 12, 128


def timed(fn, reps):
    for _ in range(5):
        fn()
    ms = []
    for _ in range(reps):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        fn()
        e.record()
        e.synchronize()
        ms.append(s.elapsed_time(e))
    return statistics.median(ms), min(ms), max(ms)


def fa3(q, k, v, splits):
    from fa3_fwd_interface import _flash_attn_forward
    return _flash_attn_forward(q, k, v, softmax_scale=D ** -0.5, num_splits=splits)[0]


def halves(q, k, v):
    """Batch 1: the keys' two halves as a batch of two (views), one FA3 call, the outputs merged by their LSE."""
    from fa3_fwd_interface import _flash_attn_forward
    b, lk = k.shape[:2]
    out, lse = _flash_attn_forward(q.expand(2, *q.shape[1:]), k.view(2, lk // 2, H, D), v.view(2, lk // 2, H, D),
                                   softmax_scale=D ** -0.5)[:2]
    w = torch.sigmoid(lse[0] - lse[1]).transpose(0, 1).unsqueeze(-1)     # [Lq, H, 1]: weight of the first half
    return (out[1].float() + w * (out[0].float() - out[1].float())).to(q.dtype).unsqueeze(0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--reps", type=int, default=30)
    args = ap.parse_args()
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    g = torch.Generator("cuda").manual_seed(0)
    rows = []
    halves_compiled = torch.compile(halves, fullgraph=True)
    fence = torch.zeros(1, device="cuda")
    fence_ms = graph_median_us(lambda: fence.add_(1), calls=10) / 1e3
    for what, b, lq, lk in SHAPES:
        q, k, v = (torch.randn(b, n, H, D, device="cuda", dtype=torch.bfloat16, generator=g) for n in (lq, lk, lk))
        flops = 4 * b * lq * lk * H * D
        base = fa3(q, k, v, 1).float()
        pick = fa3_num_splits(b, lq, lk, H, sms, D)
        variants = [(f"splits={s}", lambda s=s: fa3(q, k, v, s)) for s in (1, 2, 3, 4)]
        plan = fa3_wave_plan(b, lq, lk, H, sms)
        if plan:
            variants += [(f"waves {plan[0]}+{s}", lambda s=s: torch.ops.longlive.fa3_waves(q, k, v, plan[0], s))
                         for s in (2, 3)]
        if b == 1 and lk % 2 == 0:
            variants += [("halves eager", lambda: halves(q, k, v)),
                         ("halves compiled", lambda: halves_compiled(q, k, v))]
        for name, fn in variants:
            try:
                out = fn().float()
                med, lo, hi = timed(fn, args.reps)
                graph_ms = graph_median_us(fn, calls=10) / 1e3
                fenced_ms = graph_median_us(lambda: (fence.add_(1), fn()), calls=10) / 1e3 - fence_ms
            except Exception as e:          # a variant this FA3 build refuses is reported, not fatal
                print(f"{what} {name}: failed: {type(e).__name__}: {str(e)[:200]}", flush=True)
                continue
            rows.append({"shape": what, "batch": b, "lq": lq, "lk": lk, "variant": name,
                         "ms": med, "min": lo, "max": hi,
                         "graph_ms": graph_ms, "fenced_ms": fenced_ms,
                         "tflops": flops / fenced_ms / 1e9, "heuristic_splits": pick, "wave_plan": plan,
                         "max_abs_diff": (out - base).abs().max().item(),
                         "rel_l2": ((out - base).norm() / base.norm()).item()})
            print(rows[-1], flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = {"device": torch.cuda.get_device_name(), "sms": sms, "torch": torch.__version__, "fence_ms": fence_ms,
              "rows": rows}
    (out / "attn_split.json").write_text(json.dumps(result, indent=1))
    print(f"\n{result['device']} ({sms} SMs): FA3 forward, BF16, {H} heads x {D}; eager: median of {args.reps} "
          f"calls; graph: per call of 10 in a CUDA graph; fenced: each after a one-element kernel, its "
          f"{fence_ms * 1e3:.1f} us subtracted (TFLOP/s and ratio)")
    print(f"{'shape':<22} {'B':>2} {'Lq':>6} {'Lk':>6} {'variant':<16} {'eager':>7} {'graph':>7} {'fenced':>7} "
          f"{'TFLOP/s':>8} {'vs 1':>6} {'rel L2':>8} {'pick':>4}")
    for r in rows:
        one = next(x for x in rows if x["shape"] == r["shape"] and x["variant"] == "splits=1")
        print(f"{r['shape']:<22} {r['batch']:>2} {r['lq']:>6} {r['lk']:>6} {r['variant']:<16} {r['ms']:7.3f} "
              f"{r['graph_ms']:7.3f} {r['fenced_ms']:7.3f} {r['tflops']:8.0f} "
              f"{one['fenced_ms'] / r['fenced_ms']:5.2f}x "
              f"{r['rel_l2']:8.1e} "
              f"{r['heuristic_splits']:>4}")


if __name__ == "__main__":
    main()

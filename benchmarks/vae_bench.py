"""Streaming VAE decode variants side by side (one process, one GPU): layout, pass size, compile.

    python benchmarks/vae_bench.py [--blocks 12] [--compile] [--out DIR]
    python benchmarks/vae_bench.py --only cl:frame:compiled --profile     # + kernel breakdown of a block
    python benchmarks/vae_bench.py --only cl:frame:compiled:heuristic,cl:frame:compiled:timed   # cuDNN's choice
    python benchmarks/vae_bench.py --only cl:frame:compiled:timed,cl:frame:compiled:timed+convpad  # padding in the conv
    python benchmarks/vae_bench.py --only cl:frame:compiled:timed+convpad+subpixel --memory-trace  # what is live at the peak

Wan2.1's VAE decoder (random BF16 weights) streams 480x832 latents block by block (3 latent frames,
12 video frames per block after the first). Variants: NCDHW (default) or channels-last (NDHWC,
`WanVAEDecoder.to_channels_last`); one pass per block or one per latent frame (`per_frame`); eager or
torch.compile (fullgraph, as compile/recipe.py compiles it); cuDNN's heuristic or timed
(`cudnn.benchmark`) algorithm choice, per variant (each variant runs on a fresh thread: cuDNN's plan cache
is per thread); `convpad`: the convolutions zero-pad height and width themselves
(`WanVAEDecoder.pad_space_in_conv`) instead of reading a padded copy; `subpixel`: each spatial upsampling as
one 2x2 conv giving the 4 output phases (`WanVAEDecoder.subpixel_upsample`); `prenorm`: the convs behind a
norm cache their frames before it (`WanVAEDecoder.history_before_norm`); `pwcat`: compiled with Inductor's
`force_pointwise_cat` (every concatenation as one pointwise kernel, fusable into its consumer); `fused`: the
norm + SiLU in front of each cached conv as one Triton kernel that reads the history itself
(`WanVAEDecoder.fuse_norm_history`, compile/vae_kernel.py; an opaque custom op to torch.compile), `fusedtriton`:
the same kernel as a triton_op (Inductor launches it); `graph`: each pass after the stream's first replayed
from a CUDA graph (compile/cudagraph.GraphedVAEPasses, its own memory pool); `chanN`: the residual convs with fewer
output channels compute N, the extra ones from zero weights (`WanVAEDecoder.pad_conv_channels`); `taps`: with
`fused`, the head conv through its taps' products in the norm kernel (`WanVAEDecoder.head_taps_kernel`); `gemms`: the
middle attention as two batched GEMMs (`WanVAEDecoder.attention_by_gemms`). Per variant: median ms per
latent frame over the blocks after the first two (CUDA events around each block), the peak memory allocated
above the weights during the timed blocks and the memory reserved above them after (a graph's pool is
reserved, not allocated, between replays), and the max abs difference of its video from the first variant's.
Writes vae_bench.json to --out and prints a table last. With --profile, one more block of each variant
runs under torch.profiler: its kernels by class (convolution, norm, activation, upsampling, copies and
cache, other Triton, other), the convolutions' achieved TFLOP/s (FLOPs counted with
torch.utils.flop_counter on the eager decoder), and the costliest kernels. With --memory-trace, one more
block runs under the CUDA allocator's history: the allocations live at the block's peak, largest first, each
with the code line that made it (the generated wrapper's line for a compiled decoder).
"""
import re
import argparse
import linecache
import json
import statistics
import threading
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from model.vae import VAE_PRESETS, WanVAEDecoder  # noqa: E402

HW, F = (60, 104), 3


# Inductor names its Triton kernels after every op fused in, "convolution" included (a conv's bias or
# padding fused into a norm kernel): Triton kernels are never counted as convolutions
VAE_CLASSES = [
    ("attention", r"fmha|flash|attention"),
    ("convolution", r"^(?!triton).*(conv|implicit|xmma|cudnn|nvjet|gemm|cutlass|wgrad|dgrad|fprop)"),
    ("norm", r"norm|rsqrt|mean|welford"),
    ("upsampling", r"upsample|interp|nearest|_unsafe_index"),
    ("activation", r"silu|sigmoid|gelu"),
    ("copies and cache", r"memcpy|memset|copy|cat|pad|index"),
    ("other Triton", r"triton"),
]


def vae_class(name: str) -> str:
    low = name.lower()
    return next((c for c, pat in VAE_CLASSES if re.search(pat, low)), "other")


def conv_flops(base_sd, z) -> int:
    """FLOPs of one steady block's decode (the third), counted on the eager decoder."""
    from torch.utils.flop_counter import FlopCounterMode
    with torch.device("meta"):
        vae = WanVAEDecoder(VAE_PRESETS["wan2_1"]).to(torch.bfloat16)
    vae.load_state_dict(base_sd, assign=True)
    vae = vae.cuda().eval().requires_grad_(False)
    state = vae.new_stream(1, HW)
    with torch.no_grad():
        for i in range(2):
            vae.decode_block(z[:, i * F:(i + 1) * F], state)
        with FlopCounterMode(display=False) as fc:
            vae.decode_block(z[:, 2 * F:3 * F], state)
    del vae, state
    torch.cuda.empty_cache()
    return fc.get_total_flops()


def profile_block(vae, z, state, per_frame, flops) -> dict:
    from torch.profiler import ProfilerActivity, profile
    block = z[:, -F:]
    with torch.no_grad():
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        vae.decode_block(block, state, per_frame=per_frame)
        e.record()
        e.synchronize()
        plain = s.elapsed_time(e)
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            vae.decode_block(block, state, per_frame=per_frame)
            torch.cuda.synchronize()
    classes, names = {}, {}
    for ev in prof.events():
        if ev.device_type.name != "CUDA" or not ev.name:
            continue
        ms = ev.device_time / 1e3
        c = classes.setdefault(vae_class(ev.name), [0.0, 0])
        c[0] += ms
        c[1] += 1
        n = names.setdefault(ev.name[:100], [0.0, 0])
        n[0] += ms
        n[1] += 1
    conv_ms = classes.get("convolution", [0.0])[0]
    return {"block_ms_unprofiled": plain, "busy_ms": sum(c[0] for c in classes.values()),
            "flops_per_block": flops, "conv_tflops": flops / (conv_ms / 1e3) / 1e12 if conv_ms else None,
            "classes": {k: {"ms": v[0], "kernels": v[1]} for k, v in sorted(classes.items(), key=lambda kv: -kv[1][0])},
            "kernels": [{"name": k, "ms": v[0], "count": v[1]} for k, v in
                        sorted(names.items(), key=lambda kv: -kv[1][0])[:25]]}


def allocation_frame(frames) -> str:
    """The innermost frame of an allocation's Python stack in model/, compile/ or Inductor's generated code
    (with that generated line's text), else the innermost frame."""
    for f in frames:
        name = f["filename"]
        if "/model/" in name or "torchinductor" in name or "/compile/" in name:
            text = linecache.getline(name, f["line"]).strip() if "torchinductor" in name else ""
            return f"{Path(name).name}:{f['line']} {f['name']} {text[:160]}".strip()
    return frames[0]["filename"] + ":" + str(frames[0]["line"]) if frames else "?"


def replay_peak(events, top: int = 20) -> dict:
    """Replay a CUDA allocator trace (torch.cuda.memory._snapshot()'s device_traces entries: "alloc" and
    "free_completed" events with addr and size): the peak of the bytes allocated during the trace (what was
    live before it does not count) and the allocations live at that moment, largest first."""
    live, now, peak, at_peak = {}, 0, 0, {}
    for ev in events:
        if ev["action"] == "alloc":
            live[ev["addr"]] = ev
            now += ev["size"]
            if now > peak:
                peak, at_peak = now, dict(live)
        elif ev["action"] == "free_completed" and ev["addr"] in live:
            now -= live.pop(ev["addr"])["size"]
    rows = sorted(at_peak.values(), key=lambda ev: -ev["size"])
    return {"peak_gib": peak / 2**30, "live_at_peak": len(rows),
            "largest": [{"mib": ev["size"] / 2**20, "where": allocation_frame(ev.get("frames", []))}
                        for ev in rows[:top]]}


def memory_trace(vae, z, state, per_frame, top: int = 20) -> dict:
    """Decode one more block under torch.cuda.memory's allocation history and replay it (replay_peak), so a
    compiled decoder's peak can be read back to its buffers."""
    block = z[:, -F:]
    torch.cuda.synchronize()
    torch.cuda.memory._record_memory_history(max_entries=1_000_000, stacks="python")
    with torch.no_grad():
        vae.decode_block(block, state, per_frame=per_frame)
    torch.cuda.synchronize()
    snap = torch.cuda.memory._snapshot()
    torch.cuda.memory._record_memory_history(enabled=None)
    return replay_peak(snap["device_traces"][torch.cuda.current_device()], top)


def run_variant(base_sd, z, channels_last, per_frame, compiled, flops=None, cudnn_benchmark=False,
                pad_in_conv=False, subpixel=False, trace_memory=False, prenorm=False, pwcat=False, fused=False,
                fused_traced=False, graph=False, channels=0, taps=False, gemms=False):
    torch.backends.cudnn.benchmark = cudnn_benchmark     # read by every convolution call, compiled ones too
    with torch.device("meta"):
        vae = WanVAEDecoder(VAE_PRESETS["wan2_1"]).to(torch.bfloat16)
    vae.load_state_dict(base_sd, assign=True)
    vae = vae.cuda().eval().requires_grad_(False)
    if channels_last:
        vae.to_channels_last()
    vae.pad_space_in_conv(pad_in_conv).subpixel_upsample(subpixel).history_before_norm(prenorm).pad_conv_channels(channels)
    vae.attention_by_gemms(gemms)
    if fused or fused_traced:
        from compile import vae_kernel
        vae.fuse_norm_history(vae_kernel.fused_norm_silu_history_traced if fused_traced
                              else vae_kernel.fused_norm_silu_history)
        if taps:
            vae.head_taps_kernel(vae_kernel.fused_norm_silu_head)
    t0 = time.perf_counter()
    if compiled:
        torch._dynamo.reset()
        vae.compile(fullgraph=True, dynamic=False, options={"force_pointwise_cat": pwcat})
    if graph:
        from compile.cudagraph import GraphedVAEPasses, GraphPool
        vae.pass_runner = GraphedVAEPasses(GraphPool())
    weights = torch.cuda.memory_allocated()
    state = vae.new_stream(1, HW)
    blocks, times, outs = z.shape[1] // F, [], []
    with torch.no_grad():
        for i in range(blocks):
            if i == 2:
                torch.cuda.synchronize()
                warm_s = time.perf_counter() - t0
                torch.cuda.reset_peak_memory_stats()
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            out = vae.decode_block(z[:, i * F:(i + 1) * F], state, per_frame=per_frame)
            e.record()
            outs.append(out[:, -1].cpu())        # one frame per block for the comparison
            times.append((s, e))
    torch.cuda.synchronize()
    ms = [s.elapsed_time(e) / F for s, e in times[2:]]
    peak = (torch.cuda.max_memory_allocated() - weights) / 2**30
    reserved = (torch.cuda.memory_reserved() - weights) / 2**30
    prof = profile_block(vae, z, state, per_frame, flops) if flops is not None else None
    trace = memory_trace(vae, z, state, per_frame) if trace_memory else None
    del vae, state
    torch.cuda.empty_cache()
    row = {"ms_per_latent_frame": statistics.median(ms), "min": min(ms), "max": max(ms),
           "peak_above_weights_gib": peak, "reserved_above_weights_gib": reserved, "first_two_blocks_s": warm_s}
    if prof is not None:
        row["profile"] = prof
    if trace is not None:
        row["memory_trace"] = trace
    return row, torch.stack(outs)


def in_fresh_thread(fn, *args):
    """fn(*args) on a new thread: PyTorch's cuDNN plan cache is thread-local and its key leaves out
    `cudnn.benchmark`, so the first plan chosen for a convolution shape would otherwise stick for the whole
    process and a heuristic and a timed variant could not be compared in one process."""
    result = []
    t = threading.Thread(target=lambda: result.append(fn(*args)))
    t.start()
    t.join()
    if not result:
        raise RuntimeError("the variant's thread failed (traceback above)")
    return result[0]


def parse_variant(spec: str, timed_default: bool):
    """"cl:frame:compiled[:OPTS]", OPTS "+"-joined from timed|heuristic, convpad, subpixel, prenorm, pwcat, fused,
    fusedtriton, graph, chanN, taps, gemms -> (channels_last, per_frame, compiled, cudnn_benchmark, pad_in_conv,
    subpixel, prenorm, pwcat, fused, fusedtriton, graph, conv channels (0: off), taps, gemms)."""
    parts = spec.split(":")
    opts = parts[3].split("+") if len(parts) == 4 else []
    chans = [int(o[4:]) for o in opts if re.fullmatch(r"chan\d+", o)]
    flags = set(opts) - {f"chan{n}" for n in chans}
    if len(parts) not in (3, 4) or not flags <= {"timed", "heuristic", "convpad", "subpixel", "prenorm", "pwcat", "fused",
                                                 "fusedtriton", "graph", "taps", "gemms"} or \
            {"timed", "heuristic"} <= flags or len(chans) > 1:
        raise SystemExit(f"--only: {spec!r} is not LAYOUT:PASS:MODE[:OPTS], OPTS from timed|heuristic, convpad, "
                         "subpixel, prenorm, pwcat, fused, fusedtriton, graph, chanN, taps, gemms")
    timed = "timed" in opts or (timed_default and "heuristic" not in opts)
    return (parts[0] == "cl", parts[1] == "frame", parts[2] == "compiled", timed, "convpad" in opts, "subpixel" in opts,
            "prenorm" in opts, "pwcat" in opts, "fused" in opts, "fusedtriton" in opts, "graph" in opts,
            chans[0] if chans else 0, "taps" in opts, "gemms" in opts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--blocks", type=int, default=12)
    ap.add_argument("--compile", action="store_true", help="also time compiled variants (about a minute each)")
    ap.add_argument("--only", default=None, help="variants as LAYOUT:PASS:MODE[:CUDNN],... e.g. cl:frame:compiled "
                    "or cl:frame:compiled:heuristic,cl:frame:compiled:timed (CUDNN: cuDNN's algorithm choice, "
                    "default per --cudnn-benchmark)")
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--profile", action="store_true", help="kernel breakdown of one more block per variant")
    ap.add_argument("--memory-trace", action="store_true",
                    help="what is live at the peak of one more block per variant (CUDA allocator history)")
    ap.add_argument("--cudnn-benchmark", action="store_true",
                    help="let cuDNN time its algorithms per convolution shape (default: its heuristic's choice)")
    args = ap.parse_args()
    base = WanVAEDecoder(VAE_PRESETS["wan2_1"]).init_random(torch.Generator().manual_seed(1)).to(torch.bfloat16)
    sd = base.state_dict()
    z = torch.randn(1, args.blocks * F, 16, *HW, generator=torch.Generator().manual_seed(0)).cuda().to(torch.bfloat16)
    timed = args.cudnn_benchmark
    # convpad, subpixel, prenorm, pwcat, fused, fusedtriton, graph off; chan 0; taps, gemms off
    plain = (False,) * 7 + (0, False, False)
    variants = [(False, False, False, timed, *plain), (True, False, False, timed, *plain),
                (False, True, False, timed, *plain), (True, True, False, timed, *plain)]
    if args.compile:
        variants += [(False, False, True, timed, *plain), (True, False, True, timed, *plain),
                     (True, True, True, timed, *plain)]
    if args.only:
        variants = [parse_variant(v, timed) for v in args.only.split(",")]
    flops = conv_flops(sd, z) if args.profile else None
    rows, first = [], None
    for (cl, pf, comp, bench, convpad, subpixel, prenorm, pwcat, fused, fused_traced, graph, channels, taps,
         gemms) in variants:
        r, video = in_fresh_thread(run_variant, sd, z, cl, pf, comp, flops, bench, convpad, subpixel, args.memory_trace,
                                   prenorm, pwcat, fused, fused_traced, graph, channels, taps, gemms)
        first = video if first is None else first
        r.update({"layout": "NDHWC" if cl else "NCDHW", "per_frame": pf, "compiled": comp, "cudnn_benchmark": bench,
                  "pad_in_conv": convpad, "subpixel": subpixel, "history_before_norm": prenorm,
                  "force_pointwise_cat": pwcat, "fused_norm": fused or fused_traced,
                  "fused_norm_traced": fused_traced, "cuda_graphs": graph, "conv_channels": channels, "head_taps": taps,
                  "attention_gemms": gemms,
                  "max_abs_diff_vs_first": (video.float() - first.float()).abs().max().item()})
        rows.append(r)
        print({k: v for k, v in r.items() if k not in ("profile", "memory_trace")}, flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "latent_hw": HW,
              "blocks": args.blocks, "rows": rows}
    (out / "vae_bench.json").write_text(json.dumps(result, indent=1))
    print(f"\n{result['device']}: Wan2.1 VAE decode, 480x832, BF16, {args.blocks} blocks of {F} latent frames")
    print(f"{'layout':<7} {'per_frame':>9} {'compiled':>8} {'cuDNN':>9} {'padding':>8} {'upsample':>8} {'history':>9} "
          f"{'cat':>9} {'graph':>5} {'chan':>4} {'ms/latent fr':>12} {'min-max':>13} {'GiB above w':>11} {'reserved':>8} {'diff':>8}")
    for r in rows:
        algo = "timed" if r["cudnn_benchmark"] else "heuristic"
        pad = "in conv" if r["pad_in_conv"] else "copy"
        up = "subpixel" if r["subpixel"] else "nearest"
        hist = "triton_op" if r["fused_norm_traced"] else "fused" if r["fused_norm"] else "pre-norm" if r["history_before_norm"] else "conv in"
        cat = "pointwise" if r["force_pointwise_cat"] else "default"
        print(f"{r['layout']:<7} {str(r['per_frame']):>9} {str(r['compiled']):>8} {algo:>9} {pad:>8} {up:>8} {hist:>9} "
              f"{cat:>9} {'yes' if r['cuda_graphs'] else 'no':>5} {r['conv_channels'] or '-':>4} "
              f"{r['ms_per_latent_frame']:12.1f} "
              f"{r['min']:6.1f}-{r['max']:<6.1f} {r['peak_above_weights_gib']:11.2f} "
              f"{r['reserved_above_weights_gib']:8.2f} {r['max_abs_diff_vs_first']:8.1e}")
    for r in rows:
        p = r.get("profile")
        if not p:
            continue
        conv = f"{p['conv_tflops']:.0f}" if p["conv_tflops"] else "-"
        print(f"\n{r['layout']} per_frame={r['per_frame']} compiled={r['compiled']} "
              f"cudnn_benchmark={r['cudnn_benchmark']} pad_in_conv={r['pad_in_conv']} subpixel={r['subpixel']} "
              f"prenorm={r['history_before_norm']} pwcat={r['force_pointwise_cat']}: one block {p['block_ms_unprofiled']:.1f} ms "
              f"unprofiled, kernels {p['busy_ms']:.1f} ms, {p['flops_per_block'] / 1e12:.1f} TFLOP, convolutions {conv} TFLOP/s")
        for k, v in p["classes"].items():
            print(f"  {k:<18} {v['ms']:8.2f} ms {v['kernels']:6d} kernels")
        for k in p["kernels"][:8]:
            print(f"  {k['name'][:70]:<70} {k['ms']:7.2f} ms x{k['count']}")


    for r in rows:
        m = r.get("memory_trace")
        if m:
            print(f"\nmemory at the peak of one block ({r['layout']} compiled={r['compiled']} subpixel={r['subpixel']} "
                  f"prenorm={r['history_before_norm']} pwcat={r['force_pointwise_cat']}): "
                  f"{m['peak_gib']:.2f} GiB above the held, {m['live_at_peak']} allocations live")
            for a in m["largest"][:12]:
                print(f"  {a['mib']:8.1f} MiB  {a['where'][:110]}")


if __name__ == "__main__":
    main()

"""Kernel breakdown of one steady-state block (the seed's missing appendix).

    python scripts/profile_block.py                                   # wan_1_3b shapes, eager, on the GPU
    python scripts/profile_block.py compile=default attention=fa3
    python scripts/profile_block.py compile=default_cudagraphs attention=fa3   # kernels of graph replays
    python scripts/profile_block.py model=tiny device=cpu             # works on the CPU too (CPU ops)

Warms up past the window fill (and compiles, if asked), then records one steady-state block (4
denoising forwards + the clean-context pass) with torch.profiler. Device kernels are grouped by
class (attention, GEMM, norm/RoPE/modulation elementwise, cache writes, copies, other), with launch
gaps = the block's time without the profiler (CUDA events, measured on the block before) minus the
time some kernel was running under the profiler. Achieved TFLOP/s of attention and of
the GEMMs use analytic FLOP counts (SPEC.md section 4). The host-side matmul ops are listed too
(aten::_scaled_mm for FP8 schemes, aten::_int_mm for INT8: low-precision GEMMs, not dequantization).
The elementwise kernels' bytes are an analytic lower bound (`elementwise_bytes`: each op between
GEMMs reads and writes once), divided by their measured time. Writes the table, the raw JSON and a
Chrome trace to `out`; prints the table last.
"""
import json
import re
import sys
import time
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from compile.recipe import optimize, use_cuda_graphs  # noqa: E402
from model.pipeline import StreamingPipeline  # noqa: E402
from scripts.generate import build_model, encode_schedules, seeded_noise, validate  # noqa: E402

# first match wins; names of CUDA kernels (cuDNN, FA3, cuBLAS/CUTLASS, inductor Triton) and of CPU ops
CLASSES = [
    ("attention", r"flash|fmha|attention|sdpa|cudnn.*(mha|attn)|_efficient_attention|softmax"),
    ("GEMM", r"gemm|sm90_xmma|cutlass|cublas|nvjet|aten::(mm|addmm|bmm|linear|matmul)|_scaled_mm|int_mm"),
    ("cache writes", r"index_copy|index_put|scatter"),
    ("copies", r"memcpy|memset|copy_|aten::(clone|contiguous|cat|stack)"),
    ("norm / RoPE / modulation (elementwise)", r"triton_|elementwise|vectorized|reduce|norm|aten::(mul|add|sub|"
                                               r"rsqrt|pow|mean|gelu|silu|where|index_select|layer_norm|cos|sin)"),
]


def kernel_class(name: str) -> str:
    low = name.lower()
    for cls, pattern in CLASSES:
        if re.search(pattern, low):
            return cls
    return "other"


def idle_gaps(spans) -> dict:
    """Where the device sat idle between kernels. `spans`: (start_ms, end_ms, class, name) of each kernel.
    Returns the idle time summed by the pair of kernel classes around it ("GEMM -> attention"), with counts,
    and the 8 longest gaps with their neighbours' names: launch latency between dependent kernels shows as
    many small gaps after every class; a host that falls behind shows as a few long ones."""
    by_pair, longest, end, prev = {}, [], None, None
    for s, e, cls, name in sorted(spans):
        if end is not None and s > end:
            key = f"{prev[0]} -> {cls}"
            p = by_pair.setdefault(key, {"ms": 0.0, "count": 0})
            p["ms"] += s - end
            p["count"] += 1
            longest.append((s - end, prev[1][:60], name[:60]))
        if end is None or e > end:
            end, prev = e, (cls, name)
    longest.sort(reverse=True)
    return {"by_pair": dict(sorted(by_pair.items(), key=lambda kv: -kv[1]["ms"])),
            "longest": [{"ms": g, "after": a, "before": b} for g, a, b in longest[:8]]}


def block_flops(cfg, frame_tokens: int, frames: int, keys_frames: int, text_len: int) -> dict:
    """Analytic FLOPs of one forward of `frames` latent frames attending to `keys_frames` (SPEC.md 4)."""
    L, d, f = frames * frame_tokens, cfg.dim, cfg.ffn_dim
    gemm = 2 * L * d * d * 4 + 2 * L * d * d * 2 + 2 * L * d * f * 2        # self qkvo, cross q o, ffn
    attn = 4 * L * keys_frames * frame_tokens * d + 4 * L * text_len * d       # self + cross
    return {"gemm": gemm * cfg.num_layers, "attention": attn * cfg.num_layers}


def elementwise_bytes(cfg, frame_tokens: int, frames: int, itemsize: int = 2) -> int:
    """Bytes the elementwise work of one forward must move at least, if each op between the GEMMs and
    the attention reads its inputs and writes its output once (an analytic count, not a measurement).
    Per layer, in [L, dim] activations: norm1 + modulation 2 (read x, write h); q/k RMSNorm + RoPE 4;
    K/V into the cache 4 (read k, v; write the slots); self-attention gate + residual 3; cross norm 2;
    cross residual 3; norm2 + modulation 2; FFN gate + residual 3: 23 L dim; and the GELU over the FFN
    hidden, read and written: 2 L ffn_dim."""
    L = frames * frame_tokens
    return cfg.num_layers * (23 * L * cfg.dim + 2 * L * cfg.ffn_dim) * itemsize


@hydra.main(version_base="1.3", config_path="../conf", config_name="profile_block")
def main(cfg: DictConfig) -> None:
    from torch.profiler import ProfilerActivity, profile
    spec = validate(cfg)
    torch.set_grad_enabled(False)
    model = optimize(build_model(spec), spec.compile, spec.quant)
    schedules = [[s[0]] for s in encode_schedules(spec)]            # one prompt: a steady block, no switch
    pipe = use_cuda_graphs(StreamingPipeline(model, spec.generation, spec.batch_size, spec.latent_hw), spec.compile)
    gen, F = spec.generation, spec.generation.num_frame_per_block
    warm_blocks = gen.local_attn_size // F + 2                        # past the fill levels (and compiles)
    stream = pipe.stream(schedules, (warm_blocks + 2) * F, seeded_noise(spec))
    for _ in range(warm_blocks):
        next(stream)
    cuda = spec.device.type == "cuda"
    if cuda:                    # a steady block without the profiler: its time is what the gaps are judged by
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        next(stream)
        end.record()
        end.synchronize()
        plain_ms = start.elapsed_time(end)
    else:
        t0 = time.perf_counter()
        next(stream)
        plain_ms = (time.perf_counter() - t0) * 1e3
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    if cuda:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    with profile(activities=activities, record_shapes=False) as prof:
        next(stream)
        if cuda:
            torch.cuda.synchronize()
    wall_ms = (time.perf_counter() - t0) * 1e3

    # Which matmul ops the host issued: for the quant schemes, the proof that the GEMMs run in low
    # precision (aten::_scaled_mm for FP8, aten::_int_mm for INT8) rather than dequantizing to BF16 mm.
    gemm_ops = {}
    for e in prof.events():
        if e.device_type.name == "CPU" and re.fullmatch(r"aten::(mm|addmm|bmm|_scaled_mm|_int_mm|linear|matmul)"
                                                        r"|torchao::.*|fbgemm::.*", e.name):
            gemm_ops[e.name] = gemm_ops.get(e.name, 0) + 1
    events = [e for e in prof.events() if (e.device_type.name == "CUDA") == cuda and e.name]
    if not cuda:  # CPU ops nest: count the outermost op of a class (with its children), else leaves as other

        def classified_ancestor(e):
            p = e.cpu_parent
            while p is not None:
                if kernel_class(p.name) != "other":
                    return True
                p = p.cpu_parent
            return False

        events = [e for e in events if not classified_ancestor(e)
                  and (kernel_class(e.name) != "other" or not e.cpu_children)]
    by_class, spans, by_name = {}, [], {}
    for e in events:
        dur = (e.device_time if cuda else e.cpu_time_total) / 1e3      # ms
        n = by_name.setdefault(e.name[:120], [0.0, 0])
        n[0] += dur
        n[1] += 1
        c = by_class.setdefault(kernel_class(e.name), {"ms": 0.0, "kernels": 0, "names": {}})
        c["ms"] += dur
        c["kernels"] += 1
        c["names"][e.name[:80]] = c["names"].get(e.name[:80], 0) + dur
        start = e.time_range.start / 1e3
        spans.append((start, start + dur, kernel_class(e.name), e.name))
    busy, end = 0.0, -1e30
    for s, e, _, _ in sorted(spans):                                        # union of kernel intervals
        if e > end:
            busy += e - max(s, end)
            end = e
    keys = min(gen.local_attn_size, warm_blocks * F + F)
    fl = block_flops(spec.model, pipe.frame_tokens, F, keys, spec.model.text_len)
    forwards = len(pipe.sampler.timesteps) + 1
    rows = []
    for cls, c in sorted(by_class.items(), key=lambda kv: -kv[1]["ms"]):
        tflops = None
        if cls in ("attention", "GEMM") and c["ms"] > 0:
            tflops = fl["attention" if cls == "attention" else "gemm"] * forwards * spec.batch_size / (c["ms"] / 1e3) / 1e12
        top = sorted(c["names"].items(), key=lambda kv: -kv[1])[:3]
        rows.append({"class": cls, "ms": c["ms"], "share": c["ms"] / plain_ms, "kernels": c["kernels"],
                     "tflops": tflops, "top": [n for n, _ in top]})
    gaps = max(plain_ms - busy, 0.0)
    ew_bytes = elementwise_bytes(spec.model, pipe.frame_tokens, F, torch.empty((), dtype=spec.dtype).element_size()) \
        * forwards * spec.batch_size
    ew_ms = sum(c["ms"] for k, c in by_class.items() if k in ("cache writes", "norm / RoPE / modulation (elementwise)"))        # the profiler's own overhead widens wall_ms, not plain_ms
    result = {"device": torch.cuda.get_device_name(spec.device) if cuda else "cpu", "compile": spec.compile.mode,
              "attention": cfg.attention.backend, "quant": spec.quant.scheme, "model": cfg.model.preset,
              "block_ms_unprofiled": plain_ms, "block_wall_ms_profiled": wall_ms, "busy_ms": busy,
              "launch_gaps_ms": gaps, "elementwise_min_bytes": ew_bytes,
              "elementwise_gb_per_s": ew_bytes / (ew_ms / 1e3) / 1e9 if ew_ms else None,
              "flops_per_forward": fl, "forwards": forwards, "classes": rows, "gemm_ops": gemm_ops,
              "cuda_graphs": spec.compile.cuda_graphs, "idle": idle_gaps(spans),
              # every kernel name by total time: where a lever would act (name, ms, count, mean us, class)
              "kernels": [{"name": k, "ms": v[0], "count": v[1], "mean_us": 1e3 * v[0] / v[1], "class": kernel_class(k)}
                          for k, v in sorted(by_name.items(), key=lambda kv: -kv[1][0])[:40]]}
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "profile_block.json").write_text(json.dumps(result, indent=1))
    prof.export_chrome_trace(str(out / "profile_block_trace.json"))
    print(f"\n{result['device']}, {cfg.model.preset}, compile {spec.compile.mode}, attention {cfg.attention.backend}, "
          f"quant {spec.quant.scheme}: one steady block ({forwards} forwards) {plain_ms:.1f} ms "
          f"({plain_ms / F:.1f} per latent frame; {wall_ms:.1f} under the profiler)")
    print(f"{'class':<40} {'ms':>8} {'share':>6} {'kernels':>8} {'TFLOP/s':>8}")
    for r in rows:
        tf = f"{r['tflops']:.3g}" if r["tflops"] else "-"
        print(f"{r['class']:<40} {r['ms']:8.2f} {r['share']:6.1%} {r['kernels']:8d} {tf:>8}")
    print(f"{'launch gaps (block - busy)':<40} {gaps:8.2f} {gaps / plain_ms:6.1%}")
    if ew_ms:
        print(f"elementwise + cache writes: at least {ew_bytes / 1e9:.1f} GB moved (analytic), "
              f"{result['elementwise_gb_per_s']:.0f} GB/s achieved")
    gemm = next((r for r in rows if r["class"] == "GEMM"), None)
    print("matmul ops issued: " + ", ".join(f"{n} x{c}" for n, c in sorted(gemm_ops.items())))
    if gemm:
        print("top GEMM kernels: " + " | ".join(gemm["top"]))
    idle = result["idle"]
    print("idle between kernels (under the profiler), by neighbours: " + "; ".join(
        f"{k} {v['ms']:.2f} ms / {v['count']}" for k, v in list(idle["by_pair"].items())[:6]))
    print("longest idle gaps: " + "; ".join(f"{g['ms']:.2f} ms after {g['after'][:30]}" for g in idle["longest"][:4]))
    print(f"{'kernel (top 15 by time)':<72} {'ms':>7} {'count':>6} {'mean us':>8}")
    for k in result["kernels"][:15]:
        print(f"{k['name'][:72]:<72} {k['ms']:7.2f} {k['count']:6d} {k['mean_us']:8.1f}")


if __name__ == "__main__":
    main()

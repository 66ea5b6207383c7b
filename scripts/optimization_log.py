"""Collect a sweep of generation runs into the seed's optimization log (latency, quality drop, keep/drop).

    python scripts/generate.py -m model=wan_1_3b compile=default attention=fa3 output.quality_frames=16 \\
        quant=none,int8wo,int8dq,fp8wo,fp8dq_tensor,fp8dq_row
    python scripts/generate.py -m ... generation.local_attn_size=6,9,12,15,21 generation.sink_size=0,3,6
    python scripts/optimization_log.py --sweep multirun/DATE/TIME [--out OPTIMIZATION_LOG.md]
    python scripts/optimization_log.py --bench benchmarks/results/2026-11-26T020509Z_*.json --section quant_h100

Reads every run's timings.json (one JSON row per run), config.yaml and latents.safetensors under
--sweep. Each row is compared with its reference in the same sweep (same GPU, same seed and inputs):
for a quantized run, the `quant=none` run with the same window and sink; for a window/sink variant,
the run with LongLive's window 12 / sink 3 and the same scheme. Quality drop: latent SQNR (dB) and
relative L2 over the run and the worst block, and PSNR (dB) of the kept decoded frames
(`output.quality_frames`). Rule: keep when >= --min-speedup faster than the reference and latent SQNR
>= --min-sqnr. With random weights this measures numerical fidelity only, and the log says so.
With --bench, the rows are `scripts/benchmark.py` JSON rows instead: every path of one benchmark
process is compared with that process's first path (same GPU, weights, prompts and noise), using the
SQNR and relative L2 the benchmark recorded, and the PSNR of decoded frames when it kept them
(`scripts/benchmark.py vae=true quality_frames=N`).
Writes the markdown table and a latency-vs-quality plot (PNG) beside it.
"""
import argparse
import json
import math
import sys
from pathlib import Path

import torch
from omegaconf import OmegaConf
from safetensors.torch import load_file

LONGLIVE_WINDOW = (12, 3)


def load_rows(sweep: Path) -> list:
    rows = []
    for timing in sorted(sweep.rglob("timings.json")):
        run_dir = timing.parent
        t = json.loads(timing.read_text())
        cfg = OmegaConf.load(run_dir / "config.yaml")
        tensors = load_file(str(run_dir / "latents.safetensors")) if (run_dir / "latents.safetensors").exists() else {}
        gen = t.get("generation") or OmegaConf.to_container(cfg.generation)
        rows.append({
            "dir": run_dir, "quant": t.get("quant", "none"), "compile": t["compile"], "attention": t["attention"],
            "window": (gen["local_attn_size"], gen["sink_size"]), "device": t["device"], "seed": t.get("seed"),
            "checkpoint": t.get("checkpoint", False), "steady": t["steady_ms_per_latent_frame"],
            "dtype": t.get("dtype", "bfloat16"),
            "peak": t.get("peak_mem_gib"), "warmup": t.get("warmup_s"), "F": gen["num_frame_per_block"],
            "latents": tensors.get("latents"), "frames": tensors.get("quality_frames"),
        })
    return rows


def load_bench_rows(files) -> list:
    """scripts/benchmark.py rows: each compared with the first of our paths in the process that wrote it (as
    benchmark.py compares latents); a `longlive` row (LongLive 1.0's own code) is listed for scale, not judged."""
    raw = [(Path(f), json.loads(Path(f).read_text())) for f in files]
    rows = []
    for f, b in raw:
        gen = b["config"]["generation"]
        first = next((p for p in b["config"]["paths"] if p != "longlive"), None)
        levers = b.get("levers") or []
        label = (f"quant={b['quant']}" if b["quant"] != "none" else f"no quant ({b.get('dtype', 'bfloat16')})")
        if b["path"] == "longlive":
            label = "LongLive 1.0's own code (path longlive)"
        if levers:
            label += f", levers {'+'.join(levers)}"
        vae_field = b["path"].split(":")[5:6]         # a path's own VAE options (benchmark.py's sixth field)
        if vae_field and vae_field[0]:
            label += f", VAE {vae_field[0]}"
        sq = b.get("latent_sqnr_db_vs_first_path")
        rows.append({
            "dir": f, "quant": b["quant"], "compile": b["compile"], "attention": b["attention"],
            "window": (gen["local_attn_size"], gen["sink_size"]), "device": b["device"], "seed": b["config"].get("seed"),
            "checkpoint": any((b["config"].get("checkpoint") or {}).get(k) for k in ("wan_dir", "generator")),
            "steady": b["steady_ms_per_latent_frame"],
            "dtype": b.get("dtype", "bfloat16"), "peak": b.get("peak_mem_gib"), "warmup": b.get("warmup_s"),
            "F": gen["num_frame_per_block"], "latents": None, "frames": None, "label": label,
            "group": b["date"], "is_first": b["path"] == first, "scale_only": b["path"] == "longlive",
            "q": {"sqnr_db": math.inf if sq is None and b.get("rel_l2_vs_first_path") == 0 else sq,
                  "worst_block_sqnr_db": b.get("worst_block_sqnr_db_vs_first_path"),
                  "rel_l2": b.get("rel_l2_vs_first_path"), "psnr_db": b.get("psnr_db_vs_first_path")},
        })
    for r in rows:
        if not r["is_first"]:
            r["ref"] = next((x for x in rows if x["group"] == r["group"] and x["is_first"]), None)
    return rows


def reference_of(row, rows):
    if "group" in row:                                # a benchmark row: its process's first path
        return row.get("ref")
    if row["quant"] != "none":
        match = [r for r in rows if r["quant"] == "none" and r["window"] == row["window"]]
    elif row["window"] != LONGLIVE_WINDOW:
        match = [r for r in rows if r["quant"] == row["quant"] and r["window"] == LONGLIVE_WINDOW]
    else:
        return None
    return match[0] if match else None


def sqnr(ref: torch.Tensor, out: torch.Tensor) -> float:
    noise = (out.float() - ref.float()).pow(2).mean()
    return math.inf if noise == 0 else (10 * torch.log10(ref.float().pow(2).mean() / noise)).item()


def psnr(ref: torch.Tensor, out: torch.Tensor) -> float:
    """PSNR (dB) of uint8 frames against the reference's (inf where identical)."""
    mse = (out.float() - ref.float()).pow(2).mean().item()
    return math.inf if mse == 0 else 10 * math.log10(255 ** 2 / mse)


def quality(row, ref) -> dict:
    q = {}
    if row["latents"] is not None and ref["latents"] is not None and row["latents"].shape == ref["latents"].shape:
        a, b = ref["latents"].float(), row["latents"].float()
        q["sqnr_db"] = sqnr(a, b)
        q["rel_l2"] = ((b - a).norm() / a.norm()).item()
        F = row["F"]
        q["worst_block_sqnr_db"] = min(sqnr(a[:, i:i + F], b[:, i:i + F]) for i in range(0, a.shape[1], F))
    if row["frames"] is not None and ref["frames"] is not None and row["frames"].shape == ref["frames"].shape:
        q["psnr_db"] = psnr(ref["frames"], row["frames"])
    return q


def quality_of(row, ref) -> dict:
    """The quality columns: recorded in the row (benchmark rows), or computed from the tensors (sweeps)."""
    return row["q"] if "q" in row else quality(row, ref)


def fmt(x, spec=".1f", none="-"):
    return none if x is None else ("inf" if x == math.inf else format(x, spec))


def build_log(rows, min_speedup: float, min_sqnr: float) -> tuple:
    lines, points = [], []
    devices = sorted({r["device"] for r in rows})
    weights = "real weights" if all(r["checkpoint"] for r in rows) else \
        "random weights: the quality columns measure numerical fidelity only, not visual quality"
    lines += [f"Runs: {len(rows)} on {', '.join(devices)}; {weights}.",
              f"Rule: keep if >= {min_speedup:.2f}x faster than the reference and latent SQNR >= {min_sqnr:.0f} dB.",
              "", "| change | compile / attention | steady ms / latent frame | speed-up vs reference | peak GiB "
              "| latent SQNR dB (worst block) | rel. L2 | PSNR dB | warm-up s | keep/drop |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in sorted(rows, key=lambda r: (r.get("group", ""), r["window"] != LONGLIVE_WINDOW, r["window"],
                                         not r.get("is_first", False), r["quant"], r.get("label", ""))):
        ref = reference_of(r, rows)
        change = r.get("label") or (f"quant={r['quant']}" if r["quant"] != "none" else f"no quant ({r['dtype']})")
        if r["window"] != LONGLIVE_WINDOW:
            change += f", window {r['window'][0]} / sink {r['window'][1]}"
        if ref is None:
            tag = f"reference of the process {r['group']}" if "group" in r else "reference"
            lines.append(f"| {change} ({tag}) | {r['compile']} / {r['attention']} | {fmt(r['steady'])} | 1.00 "
                         f"| {fmt(r['peak'], '.2f')} | - | - | - | {fmt(r['warmup'])} | reference |")
            continue
        q = quality_of(r, ref)
        speedup = ref["steady"] / r["steady"] if ref["steady"] and r["steady"] else None
        keep = speedup is not None and speedup >= min_speedup and (q.get("sqnr_db") or -math.inf) >= min_sqnr
        decision = "for scale" if r.get("scale_only") else "keep" if keep else "drop"
        lines.append(f"| {change} | {r['compile']} / {r['attention']} | {fmt(r['steady'])} | {fmt(speedup, '.2f')} "
                     f"| {fmt(r['peak'], '.2f')} | {fmt(q.get('sqnr_db'))} ({fmt(q.get('worst_block_sqnr_db'))}) "
                     f"| {fmt(q.get('rel_l2'), '.1e')} | {fmt(q.get('psnr_db'))} | {fmt(r['warmup'])} "
                     f"| {decision} |")
        if not r.get("scale_only"):
            points.append((change, r["steady"], q.get("sqnr_db")))
    return lines, points


def plot(points, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, ms, q in points:
        if ms is None or q is None:
            continue
        q = min(q, 100.0)
        ax.scatter(ms, q)
        ax.annotate(name, (ms, q), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("steady ms per latent frame")
    ax.set_ylabel("latent SQNR vs reference (dB, capped at 100)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--sweep", type=Path, help="a Hydra multirun folder of generate.py runs")
    src.add_argument("--bench", type=Path, nargs="+", help="scripts/benchmark.py JSON rows (one or more processes)")
    ap.add_argument("--out", type=Path, default=Path("OPTIMIZATION_LOG.md"))
    ap.add_argument("--min-speedup", type=float, default=1.05)
    ap.add_argument("--min-sqnr", type=float, default=20.0)
    ap.add_argument("--section", default="sweep",
                    help="name of this sweep's section in --out: rewritten in place, the rest of the file kept")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows (no tensors) as JSON here")
    args = ap.parse_args(argv)
    rows = load_rows(args.sweep) if args.sweep else load_bench_rows(args.bench)
    if not rows:
        print(f"error: no timings.json under {args.sweep}", file=sys.stderr)
        return 2
    source = f"`{args.sweep}`" if args.sweep else f"{len(args.bench)} `scripts/benchmark.py` rows"
    lines, points = build_log(rows, args.min_speedup, args.min_sqnr)
    png = args.out.with_name(f"{args.out.stem}_{args.section}.png")
    plot(points, png)
    begin, end = f"<!-- sweep {args.section} -->", f"<!-- end sweep {args.section} -->"
    section = "\n".join([begin, f"Sweep `{args.section}`: {source}.", "", *lines, "",
                         f"![latency vs quality: {args.section}]({png.name})", end])
    old = args.out.read_text() if args.out.exists() else "# Optimization log\n"
    if begin in old and end in old:
        text = old[:old.index(begin)] + section + old[old.index(end) + len(end):]
    else:
        text = old.rstrip("\n") + "\n\n" + section + "\n"
    args.out.write_text(text)
    if args.json:
        keep = ("quant", "compile", "attention", "window", "device", "seed", "checkpoint", "steady", "peak", "warmup")
        out = []
        for r in rows:
            ref = reference_of(r, rows)
            out.append({**{k: r[k] for k in keep}, "run": str(r["dir"]),
                        **(quality_of(r, ref) if ref is not None else {}),
                        "reference": None if ref is None else str(ref["dir"])})
        args.json.write_text(json.dumps(out, indent=1))
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())

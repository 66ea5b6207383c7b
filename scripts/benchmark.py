"""Latency of the generation path per SPEC.md section 2, several paths side by side in one process.

    python scripts/benchmark.py                                   # wan_1_3b shapes, the reference run
    python scripts/benchmark.py model=tiny device=cpu num_frames=30 prompts.switch_frames=[15]

Each path in `paths` runs the same configuration (same weights, prompts and noise) after a short
warm-up: `ring` is the static ring-buffer cache, `reference` the literal LongLive 1.0 cache
semantics (slicing, rolling copies, concatenation). Block time is measured with CUDA events from the
end of one block to the end of the next (re-cache included); nothing syncs inside a block. Writes
one JSON row per path to `out_dir` and prints a table last. Random weights: timings are real,
outputs carry no meaning. (The compile, attention and quant columns join as those land.)
"""
import datetime
from dataclasses import replace
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig, OmegaConf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from model.attention import get_backend  # noqa: E402
from model.pipeline import StreamingPipeline  # noqa: E402
from scripts.generate import build_model, encode_schedules, seeded_noise, summarize, validate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


class EventClock:
    """Marks on the device timeline; read only after the run (one sync at the end)."""

    def __init__(self, device):
        self.cuda = device.type == "cuda"
        self.marks = []

    def mark(self):
        if self.cuda:
            ev = torch.cuda.Event(enable_timing=True)
            ev.record()
            self.marks.append(ev)
        else:
            self.marks.append(time.perf_counter())

    def laps_ms(self):
        if self.cuda:
            torch.cuda.synchronize()
            return [a.elapsed_time(b) for a, b in zip(self.marks, self.marks[1:])]
        return [(b - a) * 1e3 for a, b in zip(self.marks, self.marks[1:])]


def time_path(spec, model, schedules, cache: str, warmup_blocks: int):
    """Per-block ms and the final latents of one path; peak memory of the timed run."""
    F = spec.generation.num_frame_per_block
    if warmup_blocks:  # every fill level, and a re-cache in the last warm-up block when there are switches
        warm = [[s[0]] + ([replace(s[1], start_frame=(warmup_blocks - 1) * F)] if len(s) > 1 else [])
                for s in schedules]
        pipe = StreamingPipeline(model, spec.generation, spec.batch_size, spec.latent_hw, cache=cache)
        for _ in pipe.stream(warm, warmup_blocks * F, seeded_noise(spec)):
            pass
        del pipe
    if spec.device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    pipe = StreamingPipeline(model, spec.generation, spec.batch_size, spec.latent_hw, cache=cache)
    clock, blocks, latents = EventClock(spec.device), [], []
    clock.mark()
    for block in pipe.stream(schedules, spec.num_frames, seeded_noise(spec)):
        clock.mark()
        latents.append(block.latents)
        blocks.append({"block": block.index, "first_frame": block.first_frame, "switched": list(block.switched)})
    for b, ms in zip(blocks, clock.laps_ms()):
        b["ms"] = ms
    peak = torch.cuda.max_memory_allocated() / 2**30 if spec.device.type == "cuda" else None
    return blocks, torch.cat(latents, dim=1), peak


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def spread(xs):
    if not xs:
        return None
    q = statistics.quantiles(xs, n=10, method="inclusive") if len(xs) > 1 else [xs[0]] * 9
    return {"p10": q[0], "p90": q[-1], "min": min(xs), "max": max(xs)}


@hydra.main(version_base="1.3", config_path="../conf", config_name="benchmark")
def main(cfg: DictConfig) -> None:
    spec = validate(cfg)
    torch.set_grad_enabled(False)
    model = build_model(spec)
    schedules = encode_schedules(spec)
    F = spec.generation.num_frame_per_block
    device_name = torch.cuda.get_device_name(spec.device) if spec.device.type == "cuda" else (platform.processor() or "cpu")
    out_dir = ROOT / cfg.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H%M%SZ")
    rows, outputs = [], {}
    for cache in cfg.paths:
        blocks, lat, peak = time_path(spec, model, schedules, cache, cfg.warmup_blocks)
        outputs[cache] = lat.float()
        s = summarize(blocks, spec.generation)
        steady = [b["ms"] / F for b in blocks
                  if b["first_frame"] >= spec.generation.local_attn_size and not b["switched"]]
        rows.append({
            "path": f"eager, {cache} cache", "cache": cache, "device": device_name,
            "quant": "none", "attention": get_backend(), "compile": "none", "batch": spec.batch_size,
            "dtype": str(spec.dtype).removeprefix("torch."), "model": cfg.model.preset,
            "num_frames": spec.num_frames, "frame_tokens": (spec.latent_hw[0] // 2) * (spec.latent_hw[1] // 2),
            "steady_ms_per_latent_frame": s["steady_ms_per_latent_frame"],
            "steady_spread": spread(steady), "steady_blocks": s["steady_blocks"],
            "switch_latency_ms": s["switch_latency_ms_median"], "switch_latency_all_ms": s["switch_latency_ms"],
            "peak_mem_gib": peak, "recompiles": 0, "graph_breaks": 0, "compile_s": 0.0,
            "blocks_ms": [round(b["ms"], 3) for b in blocks],
            "torch": torch.__version__, "cuda": torch.version.cuda, "git_commit": git_commit(), "date": stamp,
            "command": " ".join(["python", "scripts/benchmark.py", *sys.argv[1:]]),
            "config": OmegaConf.to_container(cfg, resolve=True),
        })
    base = next((r for r in rows if r["cache"] == "reference"), None)
    for r in rows:
        if base and r["steady_ms_per_latent_frame"] and base["steady_ms_per_latent_frame"]:
            r["speedup_vs_reference_cache"] = base["steady_ms_per_latent_frame"] / r["steady_ms_per_latent_frame"]
        if "ring" in outputs and r["cache"] != "ring":
            a, b = outputs["ring"], outputs[r["cache"]]
            r["rel_l2_vs_ring"] = ((a - b).norm() / a.norm()).item()
        path = out_dir / f"{stamp}_{cfg.model.preset}_{r['cache']}_b{spec.batch_size}.json"
        path.write_text(json.dumps(r, indent=1))
    print(f"\n{device_name}, {cfg.model.preset}, batch {spec.batch_size}, {spec.num_frames} latent frames, "
          f"{rows[0]['dtype']}, attention {get_backend()}")
    print(f"{'path':<24} {'steady ms/frame':>16} {'p10-p90':>15} {'switch +ms':>11} {'peak GiB':>9} {'speed-up':>9}")
    for r in rows:
        sp = r["steady_spread"] or {}
        band = f"{sp['p10']:.1f}-{sp['p90']:.1f}" if sp else "-"
        print(f"{r['path']:<24} {r['steady_ms_per_latent_frame'] or float('nan'):16.1f} {band:>15} "
              f"{r['switch_latency_ms'] if r['switch_latency_ms'] is not None else float('nan'):11.1f} "
              f"{r['peak_mem_gib'] or float('nan'):9.2f} {r.get('speedup_vs_reference_cache', float('nan')):9.2f}")


if __name__ == "__main__":
    main()

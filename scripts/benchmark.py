"""Latency of the generation path per SPEC.md section 2, several paths side by side in one process.

    python scripts/benchmark.py                                   # wan_1_3b shapes, the reference run
    python scripts/benchmark.py model=tiny device=cpu num_frames=30 prompts.switch_frames=[15]

Each path in `paths` is "CACHE:COMPILE:ATTENTION[:QUANT[:LEVERS[:VAE]]]" and runs the same configuration (same weights,
prompts and noise) after a warm-up that meets every shape of the run (compile/recipe.py): CACHE is
`ring` (the static ring buffer) or `reference` (LongLive 1.0's cache semantics, literally); COMPILE a
`compile` group choice (none, default, default_cudagraphs, none_cudagraphs, max_autotune,
max_autotune_no_cudagraphs, max_autotune_cudagraphs); ATTENTION a backend (sdpa, sdpa_cudnn, fa3, fa3_fp8, flash_attn, flex,
math); QUANT a `quant` scheme (default none); LEVERS the compile recipe's levers joined by "+"
(compile/recipe.py LEVERS), default none, e.g. ring:default_cudagraphs:fa3:none:gelu+kv_only+kv_write and
ring:default_cudagraphs:fa3:fp8dq_row:kv_only+kv_write+fp8_gelu (the levers that apply of those the compiled
`compile` choices default to in generate.py); VAE the path's own compiled-VAE options over the run's, "+"-joined
KEY=VALUE with the keys of `vae_*` in conf/benchmark.yaml less the prefix (subpixel, fused_norm, fused_norm_op,
cuda_graphs, conv_channels, head_taps, attention_gemms), e.g. `'...:gelu+kv_only+kv_write+ln:head_taps=true'`
(quoted for Hydra's override parser) beside the same path without it: a VAE option measured within one process.
The path `longlive` (alone, no fields) times LongLive 1.0's own inference code from a checkout given as
`longlive_src` (scripts/longlive_ref.py: CUDA, batch 1, the same weights, prompt embeddings and switches,
no VAE), run first, so that every row also carries `speedup_vs_longlive`, the ratio SPEC.md's >= 2.25x
means. LongLive draws its own noise; the paths after it replay its starting noise and re-noising draws
(model.noise.ReplayNoise), so their rows also carry `rel_l2_vs_longlive` and `latent_sqnr_db_vs_longlive`:
our outputs against LongLive's code on the same weights, prompts and draws.
Every path copies the weights (kept on the CPU) to the device and frees them after, so each row's
peak memory (`peak_mem_gib`: allocated in the timed run; `peak_reserved_gib`: held by the allocator then,
CUDA graphs' pools included; `warmup_peak_mem_gib`: compile and warm-up) is that path's own. Block time is measured with
CUDA events from the end of one block to the end of the next (re-cache included); nothing syncs
inside a block. Recompiles and graph breaks are counted over the timed run. Every row carries its
latents' SQNR and relative L2 against the first path, and with `quality_frames=N` (VAE on) the PSNR of
every N-th decoded frame. Writes one JSON row per path to `out_dir` and prints a table last. Random
weights: timings are real, outputs carry no meaning.
"""
import copy
import dataclasses
import datetime
import gc
import math
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig, OmegaConf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from compile.recipe import CompileConfig, compile_vae, optimize, use_cuda_graphs, warm_up  # noqa: E402
from quant.schemes import QuantConfig, check_supported  # noqa: E402
from model.memory import estimate  # noqa: E402
from model.noise import ReplayNoise  # noqa: E402
from model.pipeline import StreamingPipeline  # noqa: E402
from model.vae import VAE_PRESETS, SideStreamDecoder  # noqa: E402
from scripts.longlive_ref import check_source, time_longlive  # noqa: E402
from scripts.optimization_log import psnr, sqnr  # noqa: E402
from scripts.video import pixels_uint8  # noqa: E402
from scripts.generate import (BlockTimer, _fused_norm_op, build_model, build_vae, encode_schedules,  # noqa: E402
                              fused_vae_norm_applies, seeded_noise, summarize, validate, vae_compile_options,
                              vae_cuda_graphs_apply)

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("longlive_fast")


def time_path(spec, model_cpu, schedules, cache: str, cfg: CompileConfig, vae_cpu=None, quant: str = "none",
              vae_per_frame: bool = False, vae_overlap: bool = False, quality_stride: int = 0,
              vae_options: dict = None, noise=None):
    """Copy the weights to the device, optimize, warm up (compiling every shape), then time the run; with
    `vae_cpu`, each block is decoded as it streams and timed apart. Each path holds only its own copy of
    the weights on the device, so its peak memory is its own. Returns the row's measurements.

    With `vae_overlap` (CUDA), each block is decoded on a second stream while the next block is denoised
    (model.vae.SideStreamDecoder); a block's frames are consumed (the main stream waits for them) after the
    next block's decode is queued. Then `ms` is the denoising block on the main stream, `vae_ms` the
    decode on the side stream, `e2e_ms` from the block's start to its frames decoded (what a viewer waits),
    and `frames_interval_ms` the time between consecutive blocks' frames (the streaming rate).

    With `quality_stride` > 0 and the VAE on, every quality_stride-th decoded video frame is kept (uint8 on
    the device, ~1.2 MB a frame at 480x832; to the host after the run) for the PSNR against the first path.
    `noise` (a function returning a noise source) replaces the seeded noise of the timed run: the draws of
    LongLive's run when the path `longlive` ran first."""
    from torch._dynamo.utils import counters
    cuda = spec.device.type == "cuda"
    torch._dynamo.reset()
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    model = copy.deepcopy(model_cpu).to(spec.device)
    vae = copy.deepcopy(vae_cpu).to(spec.device) if vae_cpu is not None else None
    if vae is not None and cfg.mode != "none":
        vae = compile_vae(vae, cfg, **(vae_options or {}))
        if vae.pass_runner is not None and vae_overlap and cuda:      # its passes run beside the DiT's graphs
            from compile.cudagraph import GraphPool, GraphedVAEPasses
            vae.pass_runner = GraphedVAEPasses(GraphPool())
    optimize(model, cfg, QuantConfig(quant))
    pipe = use_cuda_graphs(StreamingPipeline(model, spec.generation, spec.batch_size, spec.latent_hw, cache=cache), cfg)
    warmup_s = warm_up(pipe, schedules, lambda: seeded_noise(spec), vae, vae_per_frame)    # compiles every shape
    compile_s = warmup_s - warm_up(pipe, schedules, lambda: seeded_noise(spec), vae, vae_per_frame)  # minus, warm
    warmup_peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else None
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    counters.clear()
    stream = vae.new_stream(spec.batch_size, spec.latent_hw) if vae is not None else None
    side = SideStreamDecoder(vae, stream, vae_per_frame) if vae is not None and vae_overlap and cuda else None
    clock, blocks, latents, events, last, kept = BlockTimer(spec.device), [], [], [], None, []

    def keep(frames):                        # uint8 on the device now, to the host after the run
        if quality_stride:
            kept.append(pixels_uint8(frames[:, ::quality_stride]))
    for block in pipe.stream(schedules, spec.num_frames, noise() if noise else seeded_noise(spec)):
        clock.mark()
        latents.append(block.latents)
        blocks.append({"block": block.index, "first_frame": block.first_frame, "switched": list(block.switched)})
        if side is not None:
            p = side.submit(block.latents)
            events.append((p.start, p.end))
            if last is not None:
                keep(last.frames())                           # the block before: consumed now
            last = p
        elif vae is not None:
            keep(vae.decode_block(block.latents, stream, per_frame=vae_per_frame))  # otherwise discarded: time only
            clock.mark()
    if last is not None:
        keep(last.frames())
    del last
    laps = clock.laps_ms()
    step = 2 if vae is not None and side is None else 1
    for i, b in enumerate(blocks):
        b["ms"] = laps[step * i]
        if side is not None:
            start, end = events[i]
            b["vae_ms"] = start.elapsed_time(end)
            b["e2e_ms"] = clock.marks[i].elapsed_time(end)
            if i:
                b["frames_interval_ms"] = events[i - 1][1].elapsed_time(end)
        elif vae is not None:
            b["vae_ms"] = laps[step * i + 1]
    result = {
        "blocks": blocks, "latents": torch.cat(latents, dim=1).float().cpu(),
        "frames": torch.cat(kept, dim=1).cpu() if kept else None,
        "peak_mem_gib": torch.cuda.max_memory_allocated() / 2**30 if cuda else None,    # the timed run
        # what the allocator held at most: also the CUDA graphs' pools, whose intermediates are reserved, not
        # allocated, between replays (and the allocator's cached free blocks)
        "peak_reserved_gib": torch.cuda.max_memory_reserved() / 2**30 if cuda else None,
        "warmup_peak_mem_gib": warmup_peak,                                              # compile + warm-up
        "recompiles": int(counters["stats"]["unique_graphs"]),
        "graph_breaks": int(sum(counters["graph_break"].values())),
        "compile_s": compile_s, "warmup_s": warmup_s,
    }
    del pipe, model, vae, stream, latents, side
    gc.collect()
    torch._dynamo.reset()
    return result


def finite(x):
    """x, or None where it is infinite (identical outputs: no noise; JSON has no inf)."""
    return x if math.isfinite(x) else None


def latent_errors(a, b, block: int, against: str) -> dict:
    """Latents b against a: rel. L2, SQNR and the worst block's SQNR (blocks of `block` frames), keyed
    `..._vs_{against}`."""
    worst = min(sqnr(a[:, i:i + block], b[:, i:i + block]) for i in range(0, a.shape[1], block))
    return {f"rel_l2_vs_{against}": ((a - b).norm() / a.norm()).item(),
            f"latent_sqnr_db_vs_{against}": finite(sqnr(a, b)),
            f"worst_block_sqnr_db_vs_{against}": finite(worst)}


def git_commit() -> str:
    """LONGLIVE_COMMIT if set (a device copy's .git may not be this tree's), else `git describe --dirty`."""
    if os.environ.get("LONGLIVE_COMMIT"):
        return os.environ["LONGLIVE_COMMIT"]
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def spread(xs):
    if not xs:
        return None
    q = statistics.quantiles(xs, n=10, method="inclusive") if len(xs) > 1 else [xs[0]] * 9
    return {"p10": q[0], "p90": q[-1], "min": min(xs), "max": max(xs)}


VAE_PATH_KEYS = ("subpixel", "fused_norm", "fused_norm_op", "cuda_graphs", "conv_channels", "head_taps",
                 "attention_gemms")


def vae_path_options(field: str, spec, path: str = "") -> dict:
    """A path's VAE field ("+"-joined KEY=VALUE, keys VAE_PATH_KEYS) as RunSpec fields over the run's `spec`:
    e.g. "head_taps=true+conv_channels=0" -> {"vae_head_taps": True, "vae_conv_channels": 0}."""
    out = {}
    for item in (x for x in field.split("+") if x):
        key, eq, value = item.partition("=")
        if key not in VAE_PATH_KEYS or not eq:
            raise ValueError(f"path {path!r}: VAE option {item!r}: KEY=VALUE with KEY one of {list(VAE_PATH_KEYS)}")
        current = getattr(spec, "vae_" + key)
        if isinstance(current, bool):
            if value.lower() not in ("true", "false", "1", "0"):
                raise ValueError(f"path {path!r}: {key}={value!r}: true or false")
            out["vae_" + key] = value.lower() in ("true", "1")
        elif isinstance(current, int):
            if not value.isdigit():
                raise ValueError(f"path {path!r}: {key}={value!r}: a non-negative integer")
            out["vae_" + key] = int(value)
        else:
            try:                        # fused_norm_op, the one text option: the run option's own check
                out["vae_" + key] = _fused_norm_op(value)
            except ValueError as e:
                raise ValueError(f"path {path!r}: {e}") from None
    return out


@hydra.main(version_base="1.3", config_path="../conf", config_name="benchmark")
def main(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    try:
        bench(cfg)
    except ValueError as e:
        log.error("error: %s", e)
        if HydraConfig.get().mode != RunMode.MULTIRUN:     # in a sweep, a bad combination skips that job only
            sys.exit(2)


def bench(cfg: DictConfig) -> None:
    if cfg.prompts.get("samples") and len(cfg.prompts.samples) > cfg.batch_size:    # a batch file for several sizes
        cfg.prompts.samples = OmegaConf.to_container(cfg.prompts.samples)[:cfg.batch_size]
    spec = validate(cfg)
    torch.set_grad_enabled(False)
    model_cpu = build_model(spec).cpu()          # each path copies it to the device (time_path)
    schedules = encode_schedules(spec)
    F = spec.generation.num_frame_per_block
    device_name = torch.cuda.get_device_name(spec.device) if spec.device.type == "cuda" else (platform.processor() or "cpu")
    out_dir = ROOT / cfg.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H%M%SZ")
    vae_cpu = None
    if cfg.vae:
        vae_cpu = build_vae(spec).cpu()          # channels-last and the cuDNN flag as validate() read them
    rows, outputs, frames = [], {}, {}
    replay, longlive_latents = None, None        # LongLive's noise and draws, and its latents (path longlive)
    parsed = []
    for path in cfg.paths:
        if path == "longlive":                  # LongLive 1.0's own code (scripts/longlive_ref.py), timed first
            check_source(cfg.get("longlive_src"))
            if spec.device.type != "cuda" or spec.batch_size != 1:
                raise ValueError("path longlive: LongLive's code is timed on CUDA at batch 1 "
                                 f"(here {spec.device.type}, batch {spec.batch_size})")
            parsed.insert(0, (path, "longlive", "none", CompileConfig.from_choice("none", "sdpa"), "none", spec))
            continue
        cache, mode, attention, *rest = path.split(":")
        if len(rest) > 3:
            raise ValueError(f"path {path!r}: CACHE:COMPILE:ATTENTION[:QUANT[:LEVERS[:VAE]]], "
                             f"not {len(rest) + 3} fields")
        quant = rest[0] if rest else "none"
        levers = tuple(x for x in rest[1].split("+") if x) if len(rest) > 1 else ()
        check_supported(QuantConfig(quant).scheme, spec.device)      # refuse before any timing
        ccfg = CompileConfig.from_choice(mode, attention, levers=levers, cache_dir=cfg.compile.get("cache_dir"))
        ccfg.check_device(spec.device)
        if len(rest) > 2 and rest[2] and not cfg.vae:
            raise ValueError(f"path {path!r}: VAE options without vae=true")
        pspec = dataclasses.replace(spec, **vae_path_options(rest[2] if len(rest) > 2 else "", spec, path))
        parsed.append((path, cache, mode, ccfg, quant, pspec))
    for path, cache, mode, ccfg, quant, pspec in parsed:        # pspec: the run's spec with the path's VAE options
        try:
            if cache == "longlive":
                m = time_longlive(cfg.longlive_src, model_cpu.state_dict(), spec.model, spec.generation,
                                  spec.latent_hw, schedules[0], spec.num_frames, spec.seed, spec.device, spec.dtype)
            else:
                m = time_path(spec, model_cpu, schedules, cache, ccfg, vae_cpu, quant, bool(cfg.vae_per_frame),
                              bool(cfg.vae_overlap), int(cfg.quality_frames), vae_compile_options(pspec),
                              (lambda: ReplayNoise(*replay)) if replay else None)
        except Exception as e:  # one path that cannot run here (a kernel, a capture) does not lose the others
            log.error("path %s failed: %s: %s", path, type(e).__name__, str(e)[:500])
            gc.collect()
            torch._dynamo.reset()
            if spec.device.type == "cuda":
                torch.cuda.empty_cache()
            if not rows and cache != "longlive":    # the first of our paths: nothing to compare with
                raise
            continue
        outputs[path] = m.pop("latents")
        frames[path] = m.pop("frames")
        if cache == "longlive":
            replay, longlive_latents = m.pop("noise"), outputs[path]
        blocks = m.pop("blocks")
        s = summarize(blocks, spec.generation)
        print(f"{path}: steady {s['steady_ms_per_latent_frame']} ms/latent frame, switch {s['switch_latency_ms_median']} ms, "
              f"warm-up {m['warmup_s']:.1f} s (compile {m['compile_s']:.1f} s), recompiles {m['recompiles']}, "
              f"graph breaks {m['graph_breaks']}", flush=True)
        steady_b = [b for b in blocks if b["first_frame"] >= spec.generation.local_attn_size and not b["switched"]]
        steady = [b["ms"] / F for b in steady_b]
        vae_frame = [b["vae_ms"] / F for b in blocks[1:] if "vae_ms" in b]       # block 0 decodes 1 + 4 + 4 frames
        e2e = [b.get("e2e_ms", b["ms"] + b.get("vae_ms", 0.0)) / F for b in steady_b if "vae_ms" in b]
        interval = [b["frames_interval_ms"] / F for b in steady_b if "frames_interval_ms" in b]
        fused_vae = fused_vae_norm_applies(pspec, ccfg.mode != "none")
        plan = estimate(spec.model, spec.generation, spec.batch_size, spec.latent_hw, spec.dtype, quant=quant,
                        vae=bool(cfg.vae), vae_per_frame=bool(cfg.vae_per_frame), vae_cfg=VAE_PRESETS[spec.vae],
                        compiled_vae=ccfg.mode != "none",
                        fused_vae_norm=fused_vae)
        longlive = cache == "longlive"
        rows.append({
            "path": path, "cache": cache, "device": device_name,
            "estimated_peak_gib": None if longlive else plan.total_gib,
            "quant": quant, "attention": m.pop("longlive_attention", ccfg.attention), "compile": mode,
            "levers": list(ccfg.levers),
            "batch": spec.batch_size,
            "dtype": str(spec.dtype).removeprefix("torch."), "model": cfg.model.preset,
            "num_frames": spec.num_frames, "frame_tokens": (spec.latent_hw[0] // 2) * (spec.latent_hw[1] // 2),
            "steady_ms_per_latent_frame": s["steady_ms_per_latent_frame"],
            "steady_spread": spread(steady), "steady_blocks": s["steady_blocks"],
            "switch_latency_ms": s["switch_latency_ms_median"], "switch_latency_all_ms": s["switch_latency_ms"],
            "vae_ms_per_latent_frame": statistics.median(vae_frame) if vae_frame else None,
            "vae_per_frame": bool(cfg.vae_per_frame), "vae_channels_last": bool(cfg.vae_channels_last),
            "vae_pad_in_conv": bool(cfg.vae_pad_in_conv),
            "vae_cudnn_benchmark": bool(cfg.vae_cudnn_benchmark),
            "vae_subpixel": bool(pspec.vae_subpixel) and mode != "none",
            "vae_fused_norm": fused_vae,
            "vae_fused_norm_op": pspec.vae_fused_norm_op,
            "vae_cuda_graphs": bool(cfg.vae) and vae_cuda_graphs_apply(pspec, ccfg),
            "vae_conv_channels": pspec.vae_conv_channels if mode != "none" else 0,
            "vae_head_taps": bool(fused_vae and pspec.vae_head_taps),
            "vae_attention_gemms": bool(pspec.vae_attention_gemms) and mode != "none",
            "vae_spread": spread(vae_frame),
            "e2e_ms_per_latent_frame": statistics.median(e2e) if e2e else None, "e2e_spread": spread(e2e),
            "vae_overlap": bool(cfg.vae_overlap) and spec.device.type == "cuda",
            "frames_interval_ms_per_latent_frame": statistics.median(interval) if interval else None,
            **m,
            "blocks_ms": [round(b["ms"], 3) for b in blocks],
            "blocks_vae_ms": [round(b["vae_ms"], 3) for b in blocks if "vae_ms" in b],
            "torch": torch.__version__, "cuda": torch.version.cuda, "git_commit": git_commit(), "date": stamp,
            "command": " ".join(["python", "scripts/benchmark.py", *sys.argv[1:]]),
            "config": OmegaConf.to_container(cfg, resolve=True),
        })
        # the row is complete and written now: a later path may not finish. Speed-ups are against the first of
        # our paths and the longlive path; outputs against the first of our paths and, through the replayed draws,
        # LongLive's (the longlive row itself is compared with nothing: its draws are its own)
        r = rows[-1]
        base = next((x for x in rows if x["cache"] != "longlive"), None)
        ref = next((x for x in rows if x["cache"] == "longlive"), None)
        ms = r["steady_ms_per_latent_frame"]
        if ms:
            # all samples advance in lockstep: each stream sees this latency; 4 video frames per latent frame
            r["aggregate_video_fps"] = spec.batch_size * 4 * 1000 / ms
        if ms and base is not None and base["steady_ms_per_latent_frame"]:
            r["speedup_vs_first_path"] = base["steady_ms_per_latent_frame"] / ms
            if base["compile"] == "none" and base["quant"] == "none":      # the first path is the eager reference
                r["speedup_vs_eager"] = r["speedup_vs_first_path"]
        if ms and ref is not None and ref["steady_ms_per_latent_frame"]:
            r["speedup_vs_longlive"] = ref["steady_ms_per_latent_frame"] / ms
        r["psnr_db_vs_first_path"] = r["rel_l2_vs_first_path"] = None
        r["latent_sqnr_db_vs_first_path"] = r["worst_block_sqnr_db_vs_first_path"] = None
        if longlive:
            r["nonfinite_latents"] = int((~torch.isfinite(outputs.pop(r["path"]))).sum())
            frames.pop(r["path"])
        else:
            if longlive_latents is not None:      # the same weights, prompts and draws as LongLive's run
                r.update(latent_errors(longlive_latents, outputs[r["path"]], F, "longlive"))
            fa, fb = frames[base["path"]], frames[r["path"]]
            r.update(latent_errors(outputs[base["path"]], outputs[r["path"]], F, "first_path"))
            if r is not base:
                del outputs[r["path"]], frames[r["path"]]       # keep only the first path's latents and frames
            r["psnr_db_vs_first_path"] = finite(psnr(fa, fb)) if fa is not None and fb is not None else None
        name = r["path"].replace(":", "_").replace("+", "-").replace("=", "")
        gen = spec.generation
        (out_dir / f"{stamp}_{cfg.model.preset}_{name}_b{spec.batch_size}_w{gen.local_attn_size}s{gen.sink_size}.json").write_text(json.dumps(r, indent=1))
    base = next((x for x in rows if x["cache"] != "longlive"), rows[0])
    print(f"\n{device_name}, {cfg.model.preset}, batch {spec.batch_size}, {spec.num_frames} latent frames, "
          f"{rows[0]['dtype']}; speed-up (x) and rel. L2 against the first of our paths ({base['path']}); "
          "x LL, dB LL: speed-up and latent SQNR against LongLive's own code (path longlive)")
    print(f"{'path':<34} {'steady ms/fr':>12} {'p10-p90':>13} {'switch+ms':>9} {'VAE ms/fr':>9} {'e2e':>6} "
          f"{'GiB':>5} {'rsvd':>5} {'x':>5} {'x LL':>5} {'relL2':>7} {'dB LL':>5} {'warm s':>6} {'recomp':>6} "
          f"{'breaks':>6}")
    for r in rows:
        sp = r["steady_spread"] or {}
        band = f"{sp['p10']:.1f}-{sp['p90']:.1f}" if sp else "-"
        nan = float("nan")
        print(f"{r['path']:<34} {r['steady_ms_per_latent_frame'] or nan:12.1f} {band:>13} "
              f"{r['switch_latency_ms'] if r['switch_latency_ms'] is not None else nan:9.1f} "
              f"{r['vae_ms_per_latent_frame'] or nan:9.1f} {r['e2e_ms_per_latent_frame'] or nan:6.1f} "
              f"{r['peak_mem_gib'] or nan:5.2f} {r['peak_reserved_gib'] or nan:5.2f} "
              f"{r.get('speedup_vs_first_path', nan):5.2f} {r.get('speedup_vs_longlive', nan):5.2f} "
              f"{r['rel_l2_vs_first_path'] if r['rel_l2_vs_first_path'] is not None else nan:7.1e} "
              f"{r.get('latent_sqnr_db_vs_longlive') or nan:5.1f} "
              f"{r['warmup_s']:6.1f} {r['recompiles']:6d} {r['graph_breaks']:6d}")


if __name__ == "__main__":
    main()

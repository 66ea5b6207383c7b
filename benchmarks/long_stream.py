"""Flat memory and block time over a stream far longer than the RoPE table (issue: unbounded streaming).

    python benchmarks/long_stream.py [num_frames] [model] [device] [compile] [attention] [out_dir]
    # defaults: 10002 tiny cpu none sdpa benchmarks/results; the H100 run:
    python benchmarks/long_stream.py 2001 wan_1_3b cuda default_cudagraphs fa3

Streams `num_frames` latent frames with a prompt switch every 300 frames (no VAE, latents dropped as
they come) and prints the process's peak memory after block 10 and at the end (host RSS on the CPU,
torch.cuda.max_memory_allocated on a GPU), the median block time of the first and last 10% of blocks,
and the RoPE re-bases; writes the JSON row (with every block's time) to benchmarks/results/.
"""
import datetime
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from hydra import compose, initialize_config_dir  # noqa: E402

from compile.recipe import optimize, use_cuda_graphs, warm_up  # noqa: E402
from model.pipeline import StreamingPipeline  # noqa: E402
from scripts.generate import build_model, encode_schedules, seeded_noise, validate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def peak_gib(device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20     # KiB -> GiB


def main(num_frames=10002, model="tiny", device="cpu", compile="none", attention="sdpa", out_dir=None):
    switches = list(range(300, num_frames - 3, 300))
    texts = [f"prompt {i}: a lighthouse in changing weather, scene {i}" for i in range(len(switches) + 1)]
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("generate", [f"model={model}", f"device={device}", f"num_frames={num_frames}",
                                   f"compile={compile}", f"attention={attention}",
                                   f"prompts.texts={json.dumps(texts)}", f"prompts.switch_frames={switches}"])
    spec = validate(cfg)
    torch.set_grad_enabled(False)
    dit = optimize(build_model(spec), spec.compile, spec.quant)
    pipe = use_cuda_graphs(StreamingPipeline(dit, spec.generation, 1, spec.latent_hw), spec.compile)
    schedules = encode_schedules(spec)
    warmup_s = warm_up(pipe, schedules, lambda: seeded_noise(spec)) if spec.compile.mode != "none" else None
    times, offsets, at10 = [], set(), None
    last = time.perf_counter()
    for block in pipe.stream(schedules, num_frames, seeded_noise(spec)):
        block.latents.sum().item()                       # wait for the block, then drop it
        now = time.perf_counter()
        times.append((now - last) * 1e3)
        last = now
        offsets.add(pipe.cache.pos_offset)
        if block.index == 10:
            at10 = peak_gib(spec.device)
        if block.index % 100 == 0:
            print(f"block {block.index}: {times[-1]:.1f} ms, peak {peak_gib(spec.device):.3f} GiB", flush=True)
    n = max(len(times) // 10, 1)
    row = {"device": torch.cuda.get_device_name(spec.device) if spec.device.type == "cuda" else "cpu",
           "model": model, "compile": compile, "attention": attention, "warmup_s": warmup_s, "num_frames": num_frames, "switches": len(switches), "rope_table": spec.model.rope_max_frames,
           "rebases": len(offsets) - 1, "peak_gib_after_block_10": at10, "peak_gib_at_end": peak_gib(spec.device),
           "median_block_ms_first_10pct": statistics.median(times[1:n + 1]),
           "median_block_ms_last_10pct": statistics.median(times[-n:]),
           "median_block_ms_by_tenth": [statistics.median(times[i * len(times) // 10:(i + 1) * len(times) // 10] or [0])
                                        for i in range(10)],
           "blocks_ms": [round(t, 2) for t in times],
           "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H%M%SZ"),
           "command": "python benchmarks/long_stream.py " + " ".join(sys.argv[1:])}
    out = Path(out_dir or ROOT / "benchmarks" / "results") / f"{row['date']}_long_stream_{model}_{spec.device.type}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(row, indent=1))
    print(json.dumps({k: v for k, v in row.items() if k != "blocks_ms"}, indent=1))


if __name__ == "__main__":
    args = sys.argv[1:]
    main(int(args[0]) if args else 10002, *(args[1:6]))

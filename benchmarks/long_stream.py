"""Flat memory and block time over a stream far longer than the RoPE table (issue: unbounded streaming).

    python benchmarks/long_stream.py [num_frames] [model] [device]      # defaults: 10002 tiny cpu

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

from model.pipeline import StreamingPipeline  # noqa: E402
from scripts.generate import build_model, encode_schedules, seeded_noise, validate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def peak_gib(device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20     # KiB -> GiB


def main(num_frames=10002, model="tiny", device="cpu"):
    switches = list(range(300, num_frames - 3, 300))
    texts = [f"prompt {i}: a lighthouse in changing weather, scene {i}" for i in range(len(switches) + 1)]
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("generate", [f"model={model}", f"device={device}", f"num_frames={num_frames}",
                                   f"prompts.texts={json.dumps(texts)}", f"prompts.switch_frames={switches}"])
    spec = validate(cfg)
    torch.set_grad_enabled(False)
    pipe = StreamingPipeline(build_model(spec), spec.generation, 1, spec.latent_hw)
    times, offsets, at10 = [], set(), None
    last = time.perf_counter()
    for block in pipe.stream(encode_schedules(spec), num_frames, seeded_noise(spec)):
        block.latents.sum().item()                       # wait for the block, then drop it
        now = time.perf_counter()
        times.append((now - last) * 1e3)
        last = now
        offsets.add(pipe.cache.pos_offset)
        if block.index == 10:
            at10 = peak_gib(spec.device)
    n = max(len(times) // 10, 1)
    row = {"device": torch.cuda.get_device_name(spec.device) if spec.device.type == "cuda" else "cpu",
           "model": model, "num_frames": num_frames, "switches": len(switches), "rope_table": spec.model.rope_max_frames,
           "rebases": len(offsets) - 1, "peak_gib_after_block_10": at10, "peak_gib_at_end": peak_gib(spec.device),
           "median_block_ms_first_10pct": statistics.median(times[1:n + 1]),
           "median_block_ms_last_10pct": statistics.median(times[-n:]),
           "blocks_ms": [round(t, 2) for t in times],
           "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H%M%SZ"),
           "command": "python benchmarks/long_stream.py " + " ".join(sys.argv[1:])}
    out = ROOT / "benchmarks" / "results" / f"{row['date']}_long_stream_{model}_{spec.device.type}.json"
    out.write_text(json.dumps(row, indent=1))
    print(json.dumps(row, indent=1))


if __name__ == "__main__":
    args = sys.argv[1:]
    main(int(args[0]) if args else 10002, *(args[1:3]))

"""The memory plan (model/memory.py) against the peaks measured in benchmark rows.

    python benchmarks/memory_check.py benchmarks/results/2026-11-26T0*Z_wan_1_3b_*.json

For each row of scripts/benchmark.py: the estimate `model.memory.estimate` gives for the row's
configuration (model, generation, batch, quant, VAE pass size, compiled or eager VAE: the call
generate.py makes before building anything) against the measured peak, taken as the larger of the
timed run's and the warm-up's `torch.cuda.max_memory_allocated`. Prints a markdown table.
"""
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from compile.recipe import CompileConfig  # noqa: E402
from model.config import GenerationConfig, model_preset  # noqa: E402
from model.memory import estimate  # noqa: E402

VAE_STRIDE = 8


def main(paths):
    print("| row | path | batch | window / sink | VAE | measured GiB | estimate GiB | error |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for path in paths:
        r = json.loads(Path(path).read_text())
        c = r["config"]
        gen = GenerationConfig.from_dict(c["generation"])
        hw = (c["model"]["height"] // VAE_STRIDE, c["model"]["width"] // VAE_STRIDE)
        compiled = CompileConfig.from_choice(r["compile"]).mode != "none"
        # the fused VAE norm ran where the resolved config asked for it on a compiled path on a GPU (the rows'
        # own `vae_fused_norm` flag read false on the first rows that had it: fixed in benchmark.py since)
        fused = compiled and bool(c.get("vae_fused_norm")) and bool(c.get("vae_channels_last")) \
            and "cpu" not in str(r["device"]).lower()
        plan = estimate(model_preset(r["model"]), gen, r["batch"], hw, getattr(torch, r["dtype"]), quant=r["quant"],
                        vae=bool(c["vae"]), vae_per_frame=bool(c["vae_per_frame"]), compiled_vae=compiled,
                        fused_vae_norm=fused)
        measured = max(r["peak_mem_gib"], r.get("warmup_peak_mem_gib") or 0)
        vae = ("compiled" if compiled else "eager") + (", fused norm" if fused else "") \
            + (", per frame" if c["vae_per_frame"] else "") if c["vae"] else "off"
        print(f"| {Path(path).name[:18]} | {r['path']} | {r['batch']} | {gen.local_attn_size} / {gen.sink_size} | {vae} "
              f"| {measured:.2f} | {plan.total_gib:.2f} | {100 * (plan.total_gib - measured) / measured:+.1f}% |")


if __name__ == "__main__":
    main(sys.argv[1:])

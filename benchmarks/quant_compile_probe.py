"""Where a quantized regional compile spends its time: real shapes, one scheme per process.

    python benchmarks/quant_compile_probe.py SCHEME [--blocks 6] [--mode default]

Builds the wan_1_3b DiT (random BF16 weights), quantizes it (quant/schemes.py), compiles every block
(compile/recipe.py, FA3 if available) and streams blocks of one prompt, printing per block the seconds
it took (compiles included), the graphs compiled so far and the recompile reasons Dynamo recorded.
After the fill levels, the steady blocks show the scheme's speed. A diagnostic for the compile issue,
not a benchmark row.
"""
import argparse
import faulthandler
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from compile.backends import register_optional_backends  # noqa: E402
from compile.recipe import CompileConfig, optimize  # noqa: E402
from model.config import GenerationConfig, model_preset  # noqa: E402
from model.noise import SeededNoise  # noqa: E402
from model.pipeline import PromptSegment, StreamingPipeline  # noqa: E402
from model.wan import CausalWanModel  # noqa: E402
from quant.schemes import QuantConfig  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("scheme")
    ap.add_argument("--blocks", type=int, default=7)
    ap.add_argument("--mode", default="default")
    ap.add_argument("--dump-after", type=float, default=0, help="print every thread's stack after this many s")
    args = ap.parse_args()
    if args.dump_after:
        faulthandler.dump_traceback_later(args.dump_after, repeat=True)
    from torch._dynamo.utils import counters
    torch.set_grad_enabled(False)
    cfg = model_preset("wan_1_3b")
    t0 = time.perf_counter()
    with torch.device("cuda"):
        model = CausalWanModel(cfg).to(torch.bfloat16).init_random(torch.Generator().manual_seed(0)).eval()
    attention = "fa3" if "fa3" in register_optional_backends() else "sdpa"
    optimize(model, CompileConfig(mode=args.mode, attention=attention), QuantConfig(args.scheme))
    torch.cuda.synchronize()
    print(f"{args.scheme}: built and quantized in {time.perf_counter() - t0:.1f} s "
          f"({torch.cuda.memory_allocated() / 2**30:.2f} GiB)", flush=True)
    pipe = StreamingPipeline(model, GenerationConfig(), 1, (60, 104))
    emb = torch.randn(cfg.text_len, cfg.text_dim, generator=torch.Generator().manual_seed(1))
    stream = pipe.stream([[PromptSegment(0, emb)]], 3 * args.blocks, SeededNoise([0], (16, 60, 104), torch.bfloat16, "cuda"))
    for i in range(args.blocks):
        t = time.perf_counter()
        next(stream)
        torch.cuda.synchronize()
        print(f"block {i}: {time.perf_counter() - t:7.2f} s, graphs {counters['stats']['unique_graphs']}, "
              f"recompile reasons {sum(len(v) for v in counters['recompiles'].values()) if 'recompiles' in counters else 0}",
              flush=True)


if __name__ == "__main__":
    main()

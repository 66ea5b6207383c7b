"""Graph breaks, recompiles and guards of the compiled functions over a whole interactive run.

    python scripts/check_compile.py                       # tiny model on the CPU, eager backend (fast)
    python scripts/check_compile.py backend=inductor      # generate kernels too
    python scripts/check_compile.py device=cuda model=wan_1_3b compile.mode=default attention=fa3

For a model change: compiles the transformer block (regionally, as the pipeline does) and the VAE
step, runs the warm-up that meets every shape, then a whole run with prompt switches and window
wrap-around, and prints per compiled function the graphs made during warm-up, the recompiles and
graph breaks during the run (both must be 0), and the guards of its compiled entries. Exits 1 when
the run recompiled or broke a graph.
"""
import sys
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from compile.recipe import CompileConfig, compile_vae, optimize, warm_up  # noqa: E402
from model.pipeline import StreamingPipeline  # noqa: E402
from scripts.generate import build_model, build_vae, encode_schedules, seeded_noise, validate, vae_compile_options  # noqa: E402


def cache_entries(fn) -> tuple:
    """(compiled entries, guards in all) that Dynamo holds for a function's code; -1 where this torch
    does not expose them."""
    try:
        from torch._dynamo.eval_frame import _debug_get_cache_entry_list
        entries = _debug_get_cache_entry_list(fn.__code__)
        return len(entries), sum(len(e.guard_manager.code_parts) for e in entries)
    except (ImportError, AttributeError):
        return -1, -1


def compiled_functions(model, vae):
    block = type(model.blocks[0])
    yield f"{block.__module__}.{block.__name__}.forward", block.forward
    if vae is not None:
        yield f"{type(vae).__module__}.{type(vae).__name__}.forward", type(vae).forward


@hydra.main(version_base="1.3", config_path="../conf", config_name="check_compile")
def main(cfg: DictConfig) -> None:
    from torch._dynamo.utils import counters
    spec = validate(cfg)
    torch.set_grad_enabled(False)
    mode = cfg.compile.mode if cfg.compile.mode != "none" else "default"
    ccfg = CompileConfig(mode=mode, attention=cfg.attention.backend, backend=cfg.backend)
    model = optimize(build_model(spec), ccfg)
    vae = compile_vae(build_vae(spec), ccfg, **vae_compile_options(spec)) if cfg.output.video else None
    schedules = encode_schedules(spec)
    pipe = StreamingPipeline(model, spec.generation, spec.batch_size, spec.latent_hw)
    counters.clear()
    warm_up(pipe, schedules, lambda: seeded_noise(spec), vae)
    warm_graphs = int(counters["stats"]["unique_graphs"])
    counters.clear()
    stream = vae.new_stream(spec.batch_size, spec.latent_hw) if vae is not None else None
    for block in pipe.stream(schedules, spec.num_frames, seeded_noise(spec)):
        if vae is not None:
            vae.decode_block(block.latents, stream)
    recompiles = int(counters["stats"]["unique_graphs"])
    breaks = dict(counters["graph_break"])
    print(f"\n{cfg.model.preset}, batch {spec.batch_size}, {spec.num_frames} latent frames, "
          f"compile {mode} ({cfg.backend}), attention {cfg.attention.backend}, device {spec.device}")
    print(f"warm-up made {warm_graphs} graphs in all")
    print(f"{'compiled function':<44} {'graphs':>7} {'guards':>7}")
    for name, fn in compiled_functions(model, vae):
        n, guards = cache_entries(fn)
        print(f"{name:<44} {n:>7} {guards:>7}")
    print(f"during the run: {recompiles} recompiles, {sum(breaks.values())} graph breaks")
    for reason, n in breaks.items():
        print(f"  graph break x{n}: {reason}")
    sys.exit(0 if recompiles == 0 and not breaks else 1)


if __name__ == "__main__":
    main()

"""scripts/benchmark.py's path syntax: the optional VAE field gives one path its own compiled-VAE options, so a
VAE option is measured beside the same path without it in one process."""
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.benchmark import vae_path_options
from scripts.generate import RunSpec

ROOT = Path(__file__).resolve().parents[1]


def run_spec(**vae):
    """A RunSpec carrying only what vae_path_options reads (the vae_* fields and their defaults)."""
    fields = {f: None for f in RunSpec.__dataclass_fields__ if not f.startswith("vae_") or f == "vae"}
    return RunSpec(**fields, **vae)


def test_vae_field_overrides_the_runs_options_by_type():
    spec = run_spec()
    assert vae_path_options("", spec) == {}
    assert vae_path_options("head_taps=true+conv_channels=0", spec) == {"vae_head_taps": True,
                                                                         "vae_conv_channels": 0}
    assert vae_path_options("cuda_graphs=0+fused_norm_op=traced+subpixel=FALSE", spec) == {
        "vae_cuda_graphs": False, "vae_fused_norm_op": "traced", "vae_subpixel": False}


@pytest.mark.parametrize("field", ["taps=true", "head_taps", "head_taps=yes", "conv_channels=-8", "channels_last=1",
                                   "fused_norm_op=fast"])
def test_vae_field_refuses_unknown_keys_and_bad_values(field):
    with pytest.raises(ValueError, match="path 'p'"):
        vae_path_options(field, run_spec(), "p")


def test_benchmark_refuses_a_bad_path_before_timing(tmp_path):
    """A VAE field without vae=true, a seventh field, or the longlive path without a checkout or off CUDA stops the
    run with exit code 2 and says why (a path with "=" is quoted for Hydra's override parser)."""
    from scripts.longlive_ref import REQUIRED
    checkout = tmp_path / "LongLive"          # the files the longlive path checks for; on the CPU it refuses anyway
    for rel in REQUIRED:
        (checkout / rel).parent.mkdir(parents=True, exist_ok=True)
        (checkout / rel).write_text("")
    for paths, why, more in (("['ring:none:sdpa:none::head_taps=true']", "VAE options without vae=true", []),
                             ("['ring:none:sdpa:none:kv_only:head_taps=true:x']", "not 7 fields", []),
                             ("[reference:none:sdpa,longlive]", "set longlive_src=", []),
                             ("[longlive,ring:none:sdpa]", "timed on CUDA at batch 1", [f"longlive_src={checkout}"])):
        out = subprocess.run([sys.executable, "scripts/benchmark.py", "model=tiny", "device=cpu", "num_frames=36",
                              "prompts.switch_frames=[6,12,18,24,30]",
                              "vae=false", f"out_dir={tmp_path}/rows", f"hydra.run.dir={tmp_path}/run",
                              f"paths={paths}", *more], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert out.returncode == 2 and why in out.stdout + out.stderr, out.stderr[-2000:]
        assert not (tmp_path / "rows").exists() or not list((tmp_path / "rows").glob("*.json"))


def test_paths_after_longlive_replay_its_draws():
    """time_path's `noise`: the timed run draws from the given source (LongLive's starting noise and re-noising
    draws, model.noise.ReplayNoise) instead of the seeded noise, so its latents are those of a run with that source."""
    import torch
    from hydra import compose, initialize_config_dir
    from compile.recipe import CompileConfig
    from model.noise import ReplayNoise
    from model.pipeline import StreamingPipeline
    from scripts.benchmark import time_path
    from scripts.generate import build_model, encode_schedules, validate
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="benchmark", overrides=["model=tiny", "device=cpu", "num_frames=15",
                                                         "prompts=single"])
    spec = validate(cfg)
    g = torch.Generator().manual_seed(7)
    shape = (spec.model.in_dim, *spec.latent_hw)
    start = torch.randn(1, 15, *shape, generator=g)
    draws = [torch.randn(3, *shape, generator=g) for _ in range(5 * 3)]
    with torch.no_grad():
        model, schedules = build_model(spec), encode_schedules(spec)
        m = time_path(spec, model, schedules, "ring", CompileConfig.from_choice("none", "sdpa"),
                      noise=lambda: ReplayNoise(start, draws))
        pipe = StreamingPipeline(model, spec.generation, 1, spec.latent_hw)
        expected = pipe.generate(schedules, 15, ReplayNoise(start, draws))
        seeded = time_path(spec, model, schedules, "ring", CompileConfig.from_choice("none", "sdpa"))
    torch.testing.assert_close(m["latents"], expected.float())
    assert not torch.allclose(seeded["latents"], m["latents"])

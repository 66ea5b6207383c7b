"""The Hydra job: every config group composes and validates; bad input fails early with a clear line;
the README's tiny generation runs end to end."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import open_dict
from safetensors.torch import load_file

from scripts.generate import run, validate

ROOT = Path(__file__).resolve().parents[1]
CONF = str(ROOT / "conf")


def cfg(*overrides):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="generate", overrides=list(overrides))


@pytest.mark.parametrize("model", ["tiny", "wan_1_3b"])
@pytest.mark.parametrize("prompts", ["single", "interactive"])
def test_every_group_validates(model, prompts):
    spec = validate(cfg(f"model={model}", f"prompts={prompts}", "device=cpu"))
    assert spec.num_frames % spec.generation.num_frame_per_block == 0
    assert len(spec.texts[0]) == len(spec.switch_frames[0]) + 1
    if model == "wan_1_3b":
        assert spec.latent_hw == (60, 104) and spec.model.dim == 1536


@pytest.mark.parametrize("overrides, message", [
    (["prompts=interactive", "prompts.switch_frames=[40,30,120,160,200]"], "not sorted"),
    (["prompts=interactive", "prompts.switch_frames=[40,40,120,160,200]"], "duplicates"),
    (["prompts=interactive", "prompts.switch_frames=[40,80,120,160,300]"], "past the end"),
    (["prompts=interactive", "prompts.switch_frames=[0,80,120,160,200]"], "must be > 0"),
    (["prompts=interactive", "prompts.switch_frames=[-3,80,120,160,200]"], "must be > 0"),
    (["prompts=interactive", "prompts.switch_frames=[40,41,120,160,200]"], "both take effect"),
    (["prompts=interactive", "prompts.switch_frames=[40,80,120,160]"], "need 5 switch_frames"),
    (["num_frames=10"], "not a multiple of num_frame_per_block"),
    (["model.preset=wan_14b"], "unknown model preset"),
    (["prompts.texts=['']"], "is empty"),
    (["prompts.texts=[]"], "is empty"),
    (["model.height=100"], "model.height"),
    (["seed=1.5"], "seed"),
    (["batch_size=2", "+prompts.samples=[{texts: [a]}]"], "batch_size=2"),
    (["generation.sink_size=12"], "window frames"),
    (["dtype=float16"], "dtype"),
    (["compile.mode=fast"], "compile: 'fast' is not one of"),
    (["attention.backend=xformers"], "attention: 'xformers' is not one of"),
    (["attention=fa3"], "needs a CUDA GPU"),
    (["model.vae=sd"], "model.vae"),
    (["quant=fp8dq_row"], "needs an FP8 GPU"),
    (["quant.scheme=int4"], "quant: 'int4' is not one of"),
    (["checkpoint=wan"], "real weights need model=wan_1_3b"),
    (["model=wan_1_3b", "checkpoint=wan", "checkpoint.wan_dir=/nonexistent/Wan2.1"], "is not a folder"),
    (["model=wan_1_3b", "checkpoint=longlive", "checkpoint.wan_dir=/tmp"], "lacks Wan2.1_VAE.pth"),
])
def test_bad_input_is_one_clear_line(overrides, message):
    with pytest.raises(ValueError, match=message) as err:
        validate(cfg(*overrides, "device=cpu"))
    assert "\n" not in str(err.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_cuda_without_gpu_is_refused():
    with pytest.raises(ValueError, match="no CUDA GPU"):
        validate(cfg("device=cuda"))


def decoded_frames(path):
    import av
    with av.open(str(path)) as f:
        return [fr.to_ndarray(format="rgb24") for fr in f.decode(video=0)]


def test_run_writes_video_latents_config_and_timings(tmp_path):
    c = cfg("device=cpu", "num_frames=6")
    timings = run(c, tmp_path)
    lat = load_file(str(tmp_path / "latents.safetensors"))["latents"]
    assert lat.shape == (1, 6, 16, 16, 16) and torch.isfinite(lat).all()
    saved = json.loads((tmp_path / "timings.json").read_text())
    assert [b["first_frame"] for b in saved["blocks"]] == [0, 3]
    assert saved["compile"] == "none" and saved["levers"] == [] and saved["cuda_graphs"] is False
    assert all(b["ms"] > 0 and b["vae_ms"] > 0 for b in saved["blocks"]) and saved == json.loads(json.dumps(timings))
    frames = decoded_frames(tmp_path / "video.mp4")               # a playable H.264 file
    assert len(frames) == 1 + 4 * 5 == saved["video_frames"] and frames[0].shape == (128, 128, 3)
    for name in ("config.yaml", "first_frame.png", "last_frame.png", "latency.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert not [p for p in tmp_path.iterdir() if "tmp" in p.name]


def test_batch_with_per_sample_schedules(tmp_path):
    c = cfg("device=cpu", "num_frames=12", "batch_size=2")
    with open_dict(c):
        c.prompts.samples = [{"texts": ["a cat", "a dog"], "switch_frames": [6]},
                             {"texts": ["a boat"], "switch_frames": []}]
    timings = run(c, tmp_path)
    assert [b["switched"] for b in timings["blocks"]] == [[], [], [0], []]
    lat = load_file(str(tmp_path / "latents.safetensors"))["latents"]
    assert lat.shape[:2] == (2, 12)
    assert [len(decoded_frames(tmp_path / f"video_{i}.mp4")) for i in range(2)] == [45, 45]


def test_readme_quick_start_generation(tmp_path):
    """The README's generation command, as a user runs it (the tiny config, CPU)."""
    readme = (ROOT / "README.md").read_text()
    assert "python scripts/generate.py" in readme
    out = subprocess.run([sys.executable, "scripts/generate.py", "device=cpu", f"hydra.run.dir={tmp_path}"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert (tmp_path / "latents.safetensors").is_file()
    assert json.loads((tmp_path / "timings.json").read_text())["num_frames"] == 9
    frames = decoded_frames(tmp_path / "video.mp4")
    assert len(frames) == 33 and frames[0].shape == (128, 128, 3)


def test_bad_input_exits_before_work(tmp_path):
    out = subprocess.run([sys.executable, "scripts/generate.py", "num_frames=10", f"hydra.run.dir={tmp_path}"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2
    assert "not a multiple of num_frame_per_block" in out.stdout + out.stderr
    assert not (tmp_path / "latents.safetensors").exists() and not (tmp_path / "video.mp4").exists()


def test_compiled_run_reports_warm_up(tmp_path):
    timings = run(cfg("device=cpu", "num_frames=6", "compile=default", "output.video=false"), tmp_path)
    assert timings["compile"] == "default" and timings["warmup_s"] > 0
    assert not (tmp_path / "video.mp4").exists() and timings["video_frames"] == 0
    fx = {k: v for k, v in timings["compile_cache"].items() if k.startswith("inductor.fxgraph_cache_")}
    assert sum(fx.values()) > 0, timings["compile_cache"]        # every Inductor compile looked up its cache


def test_non_finite_block_stops_the_run_and_keeps_what_was_made(tmp_path, monkeypatch):
    """NaN from block 2 on: the run stops naming the block and the config; blocks 0-1 stay in a valid mp4."""
    from model.wan import CausalWanModel
    forward, calls = CausalWanModel.forward, {"n": 0}

    def poisoned(self, *args, **kwargs):
        calls["n"] += 1
        out = forward(self, *args, **kwargs)
        return out * float("nan") if calls["n"] > 10 else out      # 5 calls per block: block 2 on

    monkeypatch.setattr(CausalWanModel, "forward", poisoned)
    from scripts.generate import NonFiniteError
    with pytest.raises(NonFiniteError, match=r"block 2 \(latent frames 6-8\).*model=tiny.*seed=0"):
        run(cfg("device=cpu", "num_frames=12"), tmp_path)
    assert len(decoded_frames(tmp_path / "video.mp4")) == 9 + 12
    assert load_file(str(tmp_path / "latents.safetensors"))["latents"].shape[1] == 6
    assert len(json.loads((tmp_path / "timings.json").read_text())["blocks"]) == 2


def test_unwritable_output_is_refused_before_work(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OSError, match="is not writable"):
        run(cfg("device=cpu", "num_frames=3"), blocker / "out")


def test_failed_video_write_leaves_no_partial_file(tmp_path, monkeypatch):
    from scripts import video
    real_write = video.Mp4Writer.write

    def failing(self, frames):
        if self.num_frames:
            raise OSError(28, "No space left on device")
        real_write(self, frames)

    monkeypatch.setattr(video.Mp4Writer, "write", failing)
    with pytest.raises(OSError, match="No space left"):
        run(cfg("device=cpu", "num_frames=6"), tmp_path)
    assert not [p.name for p in tmp_path.iterdir() if "video" in p.name]      # neither the mp4 nor its temp file


def test_encoder_thread_failure_is_raised_and_the_temp_file_removed(tmp_path, monkeypatch):
    import av

    from scripts.video import Mp4Writer
    calls, real = [], av.VideoFrame.from_ndarray

    def from_ndarray(*args, **kwargs):
        calls.append(1)
        if len(calls) > 4:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(av.VideoFrame, "from_ndarray", from_ndarray)
    block = torch.zeros(4, 3, 16, 16)
    with pytest.raises(OSError, match="writing .*video.mp4 failed .*No space left"):
        with Mp4Writer(tmp_path / "video.mp4") as writer:
            for _ in range(4):
                writer.write(block)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    with Mp4Writer(tmp_path / "ok.mp4") as writer:          # and a healthy stream is complete after exit
        for _ in range(3):
            writer.write(block)
    with av.open(str(tmp_path / "ok.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == 12


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"),
    ("", "is empty"),
    ('{"prompts": ["a", "b"]}\n{"prompts": ["c"\n', "line 2 is not valid JSON"),
    ('{"prompts": ["a", "b"], "negative": "blur"}\n', r"line 1 has unknown keys \['negative'\]"),
    ('["a", "b"]\n', "line 1 must be a JSON object"),
    ('{"prompts": ["a", "b", "c"]}\n', "3 texts need 2 switch_frames, got 1"),
    ('{"prompts": ["a", ""]}\n', "texts\\[1\\] is empty"),
])
def test_prompt_file_errors(tmp_path, content, message):
    path = tmp_path / "prompts.jsonl"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ValueError, match=message) as err:
        validate(cfg("prompts=file", f"prompts.file={path}", "num_frames=12", "prompts.switch_frames=[6]",
                     "device=cpu"))
    assert "\n" not in str(err.value) and "prompts.file" in str(err.value)


def test_prompt_file_one_line_per_sample(tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_text('{"prompts": ["a fox", "a hare"]}\n\n{"prompts": ["a boat"], "switch_frames": []}\n')
    spec = validate(cfg("prompts=file", f"prompts.file={path}", "num_frames=12", "prompts.switch_frames=[6]",
                        "batch_size=2", "device=cpu"))
    assert spec.texts == [["a fox", "a hare"], ["a boat"]] and spec.switch_frames == [[6], []]
    with pytest.raises(ValueError, match="has 2 prompt lines but batch_size=3"):
        validate(cfg("prompts=file", f"prompts.file={path}", "num_frames=12", "prompts.switch_frames=[6]",
                     "batch_size=3", "device=cpu"))


def test_untrained_size_with_real_weights_warns(tmp_path, caplog):
    wan = tmp_path / "Wan2.1-T2V-1.3B"
    (wan / "google" / "umt5-xxl").mkdir(parents=True)
    for name in ("Wan2.1_VAE.pth", "models_t5_umt5-xxl-enc-bf16.pth", "diffusion_pytorch_model.safetensors"):
        (wan / name).write_bytes(b"")
    import logging
    with caplog.at_level(logging.WARNING, logger="longlive_fast"):
        validate(cfg("model=wan_1_3b", "checkpoint=wan", f"checkpoint.wan_dir={wan}", "model.height=320",
                     "device=cpu"))
    assert "trained at 480x832" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="longlive_fast"):
        validate(cfg("model=wan_1_3b", "checkpoint=wan", f"checkpoint.wan_dir={wan}", "device=cpu"))
    assert "trained at" not in caplog.text


def test_decode_without_writing_and_the_pyav_check(tmp_path, monkeypatch):
    """output.mp4=false decodes and times the video without writing it (a machine without PyAV, e.g. for
    the warm-start figure with the VAE); output.video=true with the mp4 and no PyAV is refused up front."""
    timings = run(cfg("device=cpu", "num_frames=6", "output.mp4=false"), tmp_path)
    assert all(b["vae_ms"] > 0 for b in timings["blocks"]) and not list(tmp_path.glob("*.mp4"))
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "av" else real(name, *a))
    with pytest.raises(ValueError, match="output.mp4=false"):
        validate(cfg("device=cpu"))
    validate(cfg("device=cpu", "output.mp4=false"))


@pytest.mark.parametrize("on", [True, False])
def test_vae_options_reach_the_decoder(on):
    """output.vae_pad_in_conv / vae_channels_last are applied by build_vae (defaults: both on)."""
    from scripts.generate import build_vae
    spec = validate(cfg() if on else cfg("output.vae_pad_in_conv=false", "output.vae_channels_last=false"))
    vae = build_vae(spec)
    assert vae.decoder.conv1.pad_in_conv is on and vae.channels_last is on
    assert vae.decoder.conv1.padding == ((0, 1, 1) if on else (0, 0, 0))


def test_compiled_only_vae_options(caplog):
    """output.vae_subpixel / vae_fused_norm / vae_cuda_graphs / vae_conv_channels / vae_head_taps /
    vae_attention_gemms (defaults on) act in compile_vae,
    on compiled VAEs only (the graphs with compile.cuda_graphs); the fused
    norm kernel needs CUDA, so on the CPU it is skipped with a warning and the memory plan does not count it."""
    from compile.recipe import CompileConfig, compile_vae
    from model.vae import ResidualBlock, Upsample
    from scripts.generate import build_vae, fused_vae_norm_applies, vae_compile_options, vae_cuda_graphs_apply
    spec = validate(cfg("device=cpu"))
    assert not vae_cuda_graphs_apply(spec)                                   # compile none
    assert vae_cuda_graphs_apply(spec, CompileConfig.from_choice("default_cudagraphs"))
    assert not vae_cuda_graphs_apply(spec, CompileConfig.from_choice("default"))
    assert vae_compile_options(spec) == {"subpixel": True, "fused_norm": True, "fused_norm_op": "opaque",
                                         "cuda_graphs": True, "conv_channels": 128, "head_taps": True,
                                         "attention_gemms": True}
    assert not fused_vae_norm_applies(spec)
    subpixel = lambda v: [m.subpixel for m in v.modules() if isinstance(m, Upsample)]
    eager = compile_vae(build_vae(spec), CompileConfig(mode="none"), **vae_compile_options(spec))
    padded = lambda v: [m.residual[2].out_pad for m in v.modules() if isinstance(m, ResidualBlock)]
    assert not any(subpixel(eager)) and eager.decoder.norm_history is None and not any(padded(eager))
    with caplog.at_level("WARNING", logger="longlive_fast"):
        compiled = compile_vae(build_vae(spec), CompileConfig(mode="default", backend="eager"),
                               **vae_compile_options(spec))
    assert all(subpixel(compiled)) and compiled.decoder.norm_history is None
    assert all(p == 128 for p in padded(compiled))
    assert compiled.pass_runner is None            # VAE graphs come with compile.cuda_graphs (CUDA) only
    assert "vae_fused_norm skipped: it is a CUDA kernel" in caplog.text
    off = validate(cfg("device=cpu", "output.vae_subpixel=false"))
    assert not any(subpixel(compile_vae(build_vae(off), CompileConfig(mode="default", backend="eager"),
                                        **vae_compile_options(off))))
    with pytest.raises(ValueError, match="vae_fused_norm_op='fast': one of opaque"):
        validate(cfg("device=cpu", "output.vae_fused_norm_op=fast"))
    with pytest.raises(ValueError, match="vae_conv_channels=-8: 0 .off."):
        validate(cfg("device=cpu", "output.vae_conv_channels=-8"))
    assert validate(cfg("device=cpu", "output.vae_conv_channels=0")).vae_conv_channels == 0


def test_cublas_workspace_is_one_choice_a_process(monkeypatch):
    """cublas_workspace (validate() applies it before any GEMM): none sets the environment cuBLAS reads once; a
    second, different choice in the same process raises instead of silently not taking effect; bad values name
    the field."""
    import compile.recipe as recipe
    monkeypatch.setattr(recipe, "_cublas_workspace", None)
    for var in ("CUBLAS_WORKSPACE_CONFIG", "CUBLASLT_WORKSPACE_SIZE"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ValueError, match="cublas_workspace='small': one of"):
        validate(cfg("cublas_workspace=small"))
    validate(cfg("cublas_workspace=none"))
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":0:0" and os.environ["CUBLASLT_WORKSPACE_SIZE"] == "0"
    validate(cfg("cublas_workspace=none"))                      # the same choice again: a multirun's next job
    with pytest.raises(ValueError, match="already runs with none"):
        validate(cfg("cublas_workspace=default"))

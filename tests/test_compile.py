"""Regional torch.compile of the DiT blocks: no graph breaks, no recompiles after the warm-up, same output.

These run on the CPU (inductor C++ backend) with a small model; the GPU variants are in test_cuda.py."""
import copy
import importlib.util

import pytest
import torch
import torch._dynamo as dynamo
from torch._dynamo.utils import counters
from torch.testing import assert_close

from compile.recipe import CompileConfig, optimize, pin_triton_ptxas, warm_up, warm_up_schedules
from model.config import GenerationConfig
from model.noise import SeededNoise
from model.pipeline import StreamingPipeline

from helpers import FRAME_SHAPE, LATENT_HW, schedule, small_model

SCHEDULES = [[schedule([9, 15, 21], [1, 2, 3, 4])], [schedule([6, 24], [1, 2, 3]), schedule([12], [4, 5])]]


def generate(model, schedules, frames=30, gen=GenerationConfig()):
    pipe = StreamingPipeline(model, gen, len(schedules), LATENT_HW)
    noise = SeededNoise(list(range(len(schedules))), FRAME_SHAPE, torch.float32, "cpu")
    return pipe, pipe.generate(schedules, frames, noise)


@pytest.fixture(scope="module")
def compiled():
    """Dynamo-level properties (graph breaks, recompiles) need no generated kernels: the eager backend."""
    dynamo.reset()
    model = optimize(copy.deepcopy(small_model()), CompileConfig(mode="default", backend="eager"))
    yield model
    dynamo.reset()


def test_warm_up_covers_every_shape():
    warm, n = warm_up_schedules([schedule([], [1])], 3, 12)
    assert [s.start_frame for s in warm[0]] == [0, 3, 6, 9, 12, 15] and n == 18


@pytest.mark.parametrize("sched", SCHEDULES, ids=["b1", "b2_partial_switches"])
def test_no_recompile_or_graph_break_after_warm_up(compiled, sched):
    """The whole run after warm-up compiles nothing: error_on_recompile turns any recompile into an error."""
    pipe = StreamingPipeline(compiled, GenerationConfig(), len(sched), LATENT_HW)
    warm_up(pipe, sched, lambda: SeededNoise(list(range(len(sched))), FRAME_SHAPE, torch.float32, "cpu"))
    counters.clear()
    with dynamo.config.patch(error_on_recompile=True):
        _, out = generate(compiled, sched)
    assert not counters["graph_break"]
    assert counters["stats"]["unique_graphs"] == 0
    _, ref = generate(small_model(), sched)
    assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_one_graph_serves_every_block(compiled):
    """Regional compilation: both blocks of the small model share one compiled code object and one graph
    per shape (not one per block)."""
    dynamo.reset()
    counters.clear()
    pipe = StreamingPipeline(compiled, GenerationConfig(), 1, LATENT_HW)
    for _ in pipe.stream([schedule([], [1])], 3, SeededNoise([0], FRAME_SHAPE, torch.float32, "cpu")):
        pass
    assert counters["stats"]["unique_graphs"] == 1          # block 0's shape, 2 layers, 5 calls
    assert not counters["graph_break"]


def test_inductor_output_equals_eager():
    """Generated kernels (inductor's C++ on the CPU) against eager PyTorch, through a switch and the window wrap."""
    dynamo.reset()
    model = optimize(copy.deepcopy(small_model()), CompileConfig(mode="default"))
    sched = [schedule([9], [1, 2])]
    _, out = generate(model, sched, frames=18)
    _, ref = generate(small_model(), sched, frames=18)
    assert_close(out, ref, atol=1e-5, rtol=1e-5)
    dynamo.reset()


def test_graph_break_is_caught():
    """Test the test: a block variant that reads a tensor on the host cannot compile with fullgraph=True."""
    model = copy.deepcopy(small_model())
    block = model.blocks[0]
    forward = block.forward

    def leaky_forward(x, *args):
        if x.abs().max().item() > 1e9:          # a host sync and a data-dependent branch
            x = x * 0
        return forward(x, *args)

    block.forward = leaky_forward
    block.compile(fullgraph=True, dynamic=False)
    dynamo.reset()
    with pytest.raises(Exception, match="(?i)graph break|item|data-dependent|Unsupported"):
        generate(model, [schedule([], [1])], frames=3)


def test_batch4_with_different_schedules_compiles_nothing_after_warm_up(compiled):
    sched = [schedule([9, 15], [1, 2, 3]), schedule([6], [4, 5]), schedule([], [6]), schedule([12, 21], [7, 8, 9])]
    pipe = StreamingPipeline(compiled, GenerationConfig(), 4, LATENT_HW)
    warm_up(pipe, sched, lambda: SeededNoise(list(range(4)), FRAME_SHAPE, torch.float32, "cpu"))
    counters.clear()
    with dynamo.config.patch(error_on_recompile=True):
        generate(compiled, sched)
    assert counters["stats"]["unique_graphs"] == 0 and not counters["graph_break"]


def test_check_compile_script(tmp_path):
    """The user-facing table: exit 0 and no recompile or graph break over a run with switches."""
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "scripts/check_compile.py", "device=cpu", "num_frames=21",
                          "prompts.switch_frames=[6,9,12,15,18]", "output.video=false", f"hydra.run.dir={tmp_path}"],
                         cwd=root, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "during the run: 0 recompiles, 0 graph breaks" in out.stdout
    assert "model.wan.AttentionBlock.forward" in out.stdout


def test_compile_choices_and_cuda_graph_refusals():
    from compile.recipe import CHOICES, CompileConfig
    from pathlib import Path
    assert set(CHOICES) == {p.stem for p in (Path(__file__).parents[1] / "conf" / "compile").glob("*.yaml")}
    cfg = CompileConfig.from_choice("default_cudagraphs", "fa3")
    assert (cfg.mode, cfg.cuda_graphs, cfg.attention) == ("default", True, "fa3")
    cfg = CompileConfig.from_choice("max_autotune_cudagraphs")
    assert (cfg.mode, cfg.cuda_graphs) == ("max_autotune_no_cudagraphs", True)
    with pytest.raises(ValueError, match="cuda_graphs=true needs a CUDA device"):
        cfg.check_device(torch.device("cpu"))
    with pytest.raises(ValueError, match="would nest"):
        CompileConfig(mode="max_autotune", cuda_graphs=True)
    with pytest.raises(ValueError, match="compile choice 'fast' is not one of"):
        CompileConfig.from_choice("fast")


def test_fa3_split_cost_model():
    """compile/backends.fa3_num_splits (lever `split`): on 132 SMs the steady-state self-attention of batch 1
    (444 CTAs: 4 waves, the last a third full) splits in 2; shapes whose waves are already full, or whose
    keys are few (the text cross-attention), stay whole; so does a GPU with SMs to spare."""
    from compile.backends import fa3_num_splits
    frame = 1560
    assert fa3_num_splits(1, 3 * frame, 12 * frame, 12, 132) == 2
    assert fa3_num_splits(1, 3 * frame, 512, 12, 132) == 1
    assert fa3_num_splits(1, 3 * frame, 9 * frame, 12, 132) == 1            # a fill level: no gain measured
    assert fa3_num_splits(2, 3 * frame, 12 * frame, 12, 132) == 1          # 888 CTAs: 6.7 waves already
    assert fa3_num_splits(1, 3 * frame, 12 * frame, 12, 444) == 1          # one full wave
    assert fa3_num_splits(1, 3 * frame, 12 * frame, 12, 132, max_splits=1) == 1


def test_fa3_wave_plan():
    """compile/backends.fa3_wave_plan (lever `waves`): on 132 SMs the steady batch-1 self-attention runs its first
    33 query tiles a head (3 whole waves of 12 x 33 CTAs) whole and splits the keys of the last 4 tiles in 2; so
    do the window's fill levels. Shapes whose waves are full (the re-cache: 1320 CTAs, 10 waves), with few keys
    (the cross-attention) or of batch 2 and 4 (the tail would not shorten the last round) stay one call."""
    from compile.backends import fa3_wave_plan
    frame = 1560
    assert fa3_wave_plan(1, 3 * frame, 12 * frame, 12, 132) == (33 * 128, 2)
    assert fa3_wave_plan(1, 3 * frame, 6 * frame, 12, 132) == (33 * 128, 2)
    assert fa3_wave_plan(1, 9 * frame, 12 * frame, 12, 132) is None
    assert fa3_wave_plan(1, 3 * frame, 512, 12, 132) is None
    assert fa3_wave_plan(2, 3 * frame, 12 * frame, 12, 132) is None
    assert fa3_wave_plan(4, 3 * frame, 12 * frame, 12, 132) is None
    assert fa3_wave_plan(1, 3 * frame, 12 * frame, 12, 444) is None           # one wave, nothing whole before it
    assert fa3_wave_plan(1, 3 * frame, 12 * frame, 12, 132, max_splits=1) is None


def test_fa3_halves_merge_is_the_whole_softmax(monkeypatch):
    """compile/backends.fa3_halves (lever `halves`): attention over the keys' two halves as a batch of 2, merged by
    the halves' log-sum-exp, is attention over all keys. FA3 stood in for by a float64 reference that returns
    (out, lse [B, H, Lq]) as FA3 does, so the merge runs on the CPU."""
    import sys
    import types

    from compile.backends import fa3_halves

    def fake_fa3(q, k, v, softmax_scale):
        s = torch.einsum("bqhd,bkhd->bhqk", q.double(), k.double()) * softmax_scale
        lse = torch.logsumexp(s, dim=-1)
        out = torch.einsum("bhqk,bkhd->bqhd", torch.softmax(s, dim=-1), v.double())
        return out.to(q.dtype), lse.float()
    monkeypatch.setitem(sys.modules, "fa3_fwd_interface", types.SimpleNamespace(_flash_attn_forward=fake_fa3))
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, n, 3, 16, generator=g) * 2 for n in (10, 24, 24))
    ref = fake_fa3(q, k, v, 16 ** -0.5)[0]
    assert torch.allclose(fa3_halves(q, k, v), ref, atol=1e-5)


def test_fa3_waves_writes_both_calls_into_one_output(monkeypatch):
    """The custom op behind lever `waves` (compile/backends.fa3_waves): queries [0, main_rows) with all keys and the
    rest with the keys in parts, both written into one output by FA3's C++ op called by keyword. The op is stood in
    for on the CPU by one of the same name and keywords (float64 attention; it records the split counts), so the
    slicing, the writes into the views and the fake implementation are checked without a GPU."""
    import sys
    import types

    from torch._subclasses.fake_tensor import FakeTensorMode

    from compile import backends
    if importlib.util.find_spec("fa3_fwd_interface") is not None:
        pytest.skip("the FA3 wheel is installed: its own op is tested (test_cuda.py), not replaced")
    splits_seen = []
    lib = torch.library.Library("fa3_fwd", "DEF")
    try:
        lib.define("fwd(Tensor q, Tensor k, Tensor v, *, Tensor(a!)? out=None, float? softmax_scale=None, "
                   "int num_splits=0) -> ()")

        def fwd(q, k, v, *, out=None, softmax_scale=None, num_splits=0):
            splits_seen.append(num_splits)
            s = torch.einsum("bqhd,bkhd->bhqk", q.double(), k.double()) * softmax_scale
            out.copy_(torch.einsum("bhqk,bkhd->bqhd", torch.softmax(s, dim=-1), v.double()))
        lib.impl("fwd", fwd, "CPU")
        monkeypatch.setitem(sys.modules, "fa3_fwd_interface", types.ModuleType("fa3_fwd_interface"))
        g = torch.Generator().manual_seed(0)
        q, k, v = (torch.randn(1, n, 3, 16, generator=g) for n in (40, 24, 24))
        out = backends.fa3_waves(q, k, v, 32, 2)
        s = torch.einsum("bqhd,bkhd->bhqk", q.double(), k.double()) * 16 ** -0.5
        ref = torch.einsum("bhqk,bkhd->bqhd", torch.softmax(s, dim=-1), v.double()).float()
        assert splits_seen == [1, 2] and torch.allclose(out, ref, atol=1e-6)
        with FakeTensorMode() as mode:
            fake = backends.fa3_waves(*(mode.from_tensor(x) for x in (q, k, v)), 32, 2)
        assert fake.shape == q.shape and fake.dtype == q.dtype
        assert backends.fa3_writes_into_out()          # the stand-in's schema names what lever waves passes
    finally:
        lib._destroy()
        torch.ops.fa3_fwd.__dict__.pop("fwd", None)         # the namespace's cached handle of the stand-in


def test_waves_lever_needs_an_fa3_op_that_writes_into_out(monkeypatch):
    """backends.fa3_writes_into_out: False without the FA3 wheel, or with an FA3 op whose schema lacks the
    keywords lever `waves` passes (optimize() then logs and runs FA3 as one call)."""
    import sys
    import types

    from compile import backends
    if importlib.util.find_spec("fa3_fwd_interface") is not None:
        pytest.skip("the FA3 wheel is installed: its own op is tested (test_cuda.py), not replaced")
    assert not backends.fa3_writes_into_out()
    monkeypatch.setitem(sys.modules, "fa3_fwd_interface", types.ModuleType("fa3_fwd_interface"))
    lib = torch.library.Library("fa3_fwd", "DEF")
    try:
        lib.define("fwd(Tensor q, Tensor k, Tensor v, *, Tensor(a!)? o=None, int splits=0) -> ()")
        assert not backends.fa3_writes_into_out()
    finally:
        lib._destroy()
        torch.ops.fa3_fwd.__dict__.pop("fwd", None)


def test_split_lever_off_the_fa3_backend_changes_nothing():
    """Levers `split`, `waves` and `halves` with another attention backend: logged and skipped, the process-wide
    flags follow the config (a later path without the lever runs FA3 whole)."""
    from compile import backends
    levers = ("split", "waves", "halves")
    optimize(copy.deepcopy(small_model()), CompileConfig(mode="none", attention="sdpa", levers=levers))
    assert backends._SPLIT and backends._WAVES and backends._HALVES
    optimize(copy.deepcopy(small_model()), CompileConfig(mode="none", attention="sdpa"))
    assert not backends._SPLIT and not backends._WAVES and not backends._HALVES


def test_tune_lever_becomes_a_compile_option(monkeypatch):
    """Lever tune reaches torch.compile as Inductor's coordinate-descent option on mode default; a max-autotune
    mode (which torch.compile cannot combine with options, and which tunes anyway) keeps its mode alone."""
    seen = []

    def fake_compile(fn, *args, **kwargs):
        seen.append(kwargs)
        return fn
    monkeypatch.setattr(torch, "compile", fake_compile)
    optimize(copy.deepcopy(small_model()), CompileConfig(mode="default", backend="eager", levers=("tune",)))
    assert seen and all(k["options"] == {"coordinate_descent_tuning": True} for k in seen)
    seen.clear()
    optimize(copy.deepcopy(small_model()), CompileConfig(mode="max_autotune", backend="eager", levers=("tune",)))
    assert seen and all(k["mode"] == "max-autotune" and "options" not in k for k in seen)


def test_triton_ptxas_is_pinned_before_any_compile(monkeypatch):
    """The recipe applies Inductor's ptxas rule before compiling (a warm start otherwise compiles again every
    kernel built before Inductor's lazy switch: pin_triton_ptxas) and keeps a path the user set."""
    from torch._inductor.runtime import compile_tasks
    calls = []

    def inductor_rule():
        calls.append(1)
        monkeypatch.setenv("TRITON_PTXAS_PATH", "/torch/bin/ptxas")
    monkeypatch.setattr(compile_tasks, "_set_triton_ptxas_path", inductor_rule)
    monkeypatch.delenv("TRITON_PTXAS_PATH", raising=False)
    optimize(copy.deepcopy(small_model()), CompileConfig(mode="none"))
    assert calls == [1] and pin_triton_ptxas() == "/torch/bin/ptxas" and calls == [1]
    monkeypatch.setenv("TRITON_PTXAS_PATH", "/user/ptxas")
    assert pin_triton_ptxas() == "/user/ptxas" and calls == [1]


def test_persist_lever_sets_inductor_heuristic_and_its_cache_key(monkeypatch):
    """Lever persist: Inductor's reduction heuristic is swapped for one that keeps rows of up to 2048 persistent
    (for every later compile in the thread) and its compiles carry their own cache key; a run without the lever
    gets Inductor's own heuristic back."""
    from torch._inductor.choices import InductorChoices
    from torch._inductor.virtualized import V
    seen = []
    monkeypatch.setattr(torch, "compile", lambda fn, *a, **k: seen.append(k) or fn)
    optimize(copy.deepcopy(small_model()), CompileConfig(mode="default", backend="eager", levers=("persist",)))
    assert type(V.choices).__name__ == "PersistentRows"
    assert seen and all(list(k["options"]) == ["post_grad_custom_post_pass"] for k in seen)
    assert seen[0]["options"]["post_grad_custom_post_pass"].uuid() == "longlive-persistent-rows-2048"
    optimize(copy.deepcopy(small_model()), CompileConfig(mode="default", backend="eager"))
    assert type(V.choices) is InductorChoices


def test_persist_lever_takes_a_row_length():
    """`persistN` sets the row length (and its own cache key); `persist` is 2048; anything else is refused."""
    from compile.recipe import persist_max_row, persistent_rows_cache_key
    assert persist_max_row(("gelu", "persist")) == 2048
    assert persist_max_row(("persist16384", "kv_only")) == 16384
    assert persist_max_row(("gelu",)) is None
    assert persistent_rows_cache_key(16384).uuid() == "longlive-persistent-rows-16384"
    for bad in (("persist0",), ("persistx",), ("persist", "persist4096")):
        with pytest.raises(ValueError, match="compile.levers"):
            persist_max_row(CompileConfig(levers=bad).levers)


def test_persist_cache_key_keeps_the_two_heuristics_apart(tmp_path, monkeypatch):
    """Inductor's FX graph cache (CPU, a fresh cache dir): a function compiled with the persist lever's cache key
    misses the entry compiled without it, then hits its own; so a warm start never mixes the two heuristics."""
    from torch._inductor.utils import fresh_cache
    from compile.recipe import persistent_rows_cache_key
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))

    def f(x):
        return torch.nn.functional.layer_norm(x, (64,)) * 2

    x = torch.randn(8, 64)
    counters.clear()
    with fresh_cache():
        for options in ({}, {}, {"post_grad_custom_post_pass": persistent_rows_cache_key()},
                        {"post_grad_custom_post_pass": persistent_rows_cache_key()}):
            dynamo.reset()
            torch.compile(f, options={"fx_graph_cache": True, **options})(x)
        assert (counters["inductor"]["fxgraph_cache_miss"], counters["inductor"]["fxgraph_cache_hit"]) == (2, 2)
    dynamo.reset()

"""Our pipeline against LongLive 1.0's own outputs (../shared/oracle), through the CLI checker."""
import os
from pathlib import Path

import pytest

from scripts.check_fidelity import check_run, load_oracle_model, main

ORACLE = Path(os.environ.get("LONGLIVE_ORACLE", Path(__file__).resolve().parents[2] / "shared" / "oracle"))
needs_oracle = pytest.mark.skipif(not (ORACLE / "tiny_model.json").is_file(), reason=f"no oracle at {ORACLE}")


@needs_oracle
@pytest.mark.parametrize("cache", ["ring", "reference"])
def test_checker_passes_on_the_oracle(cache, capsys):
    assert main(["--oracle", str(ORACLE), "--cache", cache]) == 0
    out = capsys.readouterr().out
    assert "tiny_run.json" in out and "tiny_run_b2.json" in out
    assert out.strip().splitlines()[-1].startswith("PASS")


@needs_oracle
@pytest.mark.parametrize("run", ["tiny_run.json", "tiny_run_b2.json"])
def test_every_call_and_cache_snapshot_is_compared(run):
    rows, worst = check_run(load_oracle_model(ORACLE), ORACLE / run)
    phases = [r[0].split()[0] for r in rows]
    assert phases.count("denoise") == 32 and phases.count("context") == 16
    assert phases.count("recache") == 4                   # 2 switches: flow + cache each
    assert sum(r[2] == "kv cache" for r in rows) == 10    # 8 context + 2 recache snapshots
    assert worst < 1e-4 and max(r[3] for r in rows) < 1e-4


@needs_oracle
def test_checker_fails_when_the_model_is_wrong(tmp_path, capsys):
    """A checker that cannot fail proves nothing: perturb one weight and expect exit 1."""
    import shutil

    from safetensors.torch import load_file, save_file
    for f in ORACLE.iterdir():
        shutil.copy(f, tmp_path / f.name)
    weights = load_file(str(ORACLE / "tiny_model.safetensors"))
    weights["blocks.1.self_attn.o.bias"] = weights["blocks.1.self_attn.o.bias"] + 1e-2
    save_file(weights, str(tmp_path / "tiny_model.safetensors"))
    assert main(["--oracle", str(tmp_path)]) == 1
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("FAIL")


def test_checker_rejects_a_folder_without_oracle(tmp_path):
    assert main(["--oracle", str(tmp_path)]) == 2

"""The ablation: a Hydra multirun of generate.py, one JSON row per run, collected into the optimization log."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_multirun_sweep_gives_one_log_row_per_scheme(tmp_path):
    sweep = tmp_path / "sweep"
    out = subprocess.run([sys.executable, "scripts/generate.py", "-m", "device=cpu", "num_frames=15",
                          "output.quality_frames=4", "quant=none,int8wo,fp8wo", f"hydra.sweep.dir={sweep}"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert len(list(sweep.rglob("timings.json"))) == 3
    log = tmp_path / "LOG.md"
    log.write_text("# Optimization log\n\nHand-written levers stay.\n")
    for _ in range(2):                                           # the second run rewrites its section in place
        out = subprocess.run([sys.executable, "scripts/optimization_log.py", "--sweep", str(sweep), "--out", str(log),
                              "--section", "quant", "--json", str(tmp_path / "rows.json")],
                             cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
    assert log.read_text().count("<!-- sweep quant -->") == 1 and "Hand-written levers stay." in log.read_text()
    assert {r["quant"] for r in json.loads((tmp_path / "rows.json").read_text())} == {"none", "int8wo", "fp8wo"}
    rows = [line for line in log.read_text().splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == 3
    by_change = {r.split("|")[1].strip(): r for r in rows}
    assert by_change["no quant (float32) (reference)"].rstrip().endswith("| reference |")
    for scheme in ("int8wo", "fp8wo"):
        cells = [c.strip() for c in by_change[f"quant={scheme}"].split("|")]
        sqnr = float(cells[6].split()[0])
        assert 20 < sqnr < 200 and cells[-2] in ("keep", "drop")
        assert float(cells[8]) > 20                                  # PSNR of the kept decoded frames
    assert "numerical fidelity only" in log.read_text()
    assert (tmp_path / "LOG_quant.png").stat().st_size > 0


def test_bad_combination_in_a_sweep_skips_only_that_job(tmp_path):
    sweep = tmp_path / "sweep"
    out = subprocess.run([sys.executable, "scripts/generate.py", "-m", "device=cpu", "num_frames=3", "output.video=false",
                          "generation.sink_size=3,10", f"hydra.sweep.dir={sweep}"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "window frames" in out.stdout + out.stderr
    assert len(list(sweep.rglob("timings.json"))) == 1


def test_benchmark_rows_become_a_log_section(tmp_path):
    """--bench: the rows of one benchmark process, each against that process's first path, each labelled with its
    quant, levers and own VAE options."""
    out = subprocess.run([sys.executable, "scripts/benchmark.py", "model=tiny", "device=cpu", "num_frames=36", "vae=true",
                          "quality_frames=4",
                          "prompts.switch_frames=[6,12,18,24,30]", f"out_dir={tmp_path}/rows",
                          f"hydra.run.dir={tmp_path}/run", "paths=[ring:none:sdpa,ring:none:sdpa:int8wo:kv_only,'ring:none:sdpa:none::subpixel=false']"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = sorted((tmp_path / "rows").glob("*.json"))
    assert len(rows) == 3
    log = tmp_path / "LOG.md"
    out = subprocess.run([sys.executable, "scripts/optimization_log.py", "--bench", *map(str, rows), "--out", str(log),
                          "--section", "bench"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = [line for line in log.read_text().splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(lines) == 3 and "reference of the process" in lines[0]
    labels = [line.split("|")[1].strip() for line in lines]
    assert "no quant (float32), VAE subpixel=false" in labels           # a path's own VAE options are named
    cells = [c.strip() for c in next(line for line in lines if "int8wo" in line).split("|")]
    assert cells[1] == "quant=int8wo, levers kv_only" and 20 < float(cells[6].split()[0]) < 200
    assert 20 < float(cells[8]) < 200                              # PSNR of the kept decoded frames
    assert cells[-2] in ("keep", "drop") and "numerical fidelity only" in log.read_text()


def test_a_longlive_row_is_listed_for_scale_and_not_the_reference(tmp_path):
    """--bench with a process whose first path is `longlive` (LongLive 1.0's own code, which benchmark.py runs
    first and does not compare latents with as a reference): the first of our paths is the reference, the
    LongLive row is labelled and marked for scale, not kept or dropped. Two of that row's fields, in the shape
    benchmark.py writes (the real rows need a GPU and LongLive's checkout)."""
    from scripts.optimization_log import build_log, load_bench_rows
    paths = ["longlive", "reference:none:sdpa", "ring:default_cudagraphs:fa3:none:gelu"]
    base = {"config": {"generation": {"local_attn_size": 12, "sink_size": 3, "num_frame_per_block": 3},
                       "paths": paths, "seed": 0}, "quant": "none", "device": "NVIDIA H100 80GB HBM3",
            "dtype": "bfloat16", "date": "2026-11-26T193834Z", "peak_mem_gib": 9.0, "warmup_s": 5.0}
    rows = [dict(base, path="longlive", compile="none", attention="fa3", steady_ms_per_latent_frame=163.5),
            dict(base, path=paths[1], compile="none", attention="sdpa", steady_ms_per_latent_frame=138.4),
            dict(base, path=paths[2], compile="default_cudagraphs", attention="fa3", levers=["gelu"],
                 steady_ms_per_latent_frame=79.8, latent_sqnr_db_vs_first_path=40.3,
                 worst_block_sqnr_db_vs_first_path=39.9, rel_l2_vs_first_path=9.7e-3)]
    files = []
    for i, r in enumerate(rows):
        files.append(tmp_path / f"{i}.json")
        files[-1].write_text(json.dumps(r))
    lines, points = build_log(load_bench_rows(files), 1.01, 20.0)
    cells = [[c.strip() for c in line.split("|")] for line in lines if line.startswith("| ")]
    table = {c[1]: c for c in cells}
    assert table["no quant (bfloat16) (reference of the process 2026-11-26T193834Z)"][-2] == "reference"
    ll = table["LongLive 1.0's own code (path longlive)"]
    assert ll[-2] == "for scale" and ll[4] == "0.85"                 # 138.4 / 163.5
    fast = table["no quant (bfloat16), levers gelu"]
    assert fast[-2] == "keep" and fast[4] == "1.73"
    assert [p[0] for p in points] == ["no quant (bfloat16), levers gelu"]

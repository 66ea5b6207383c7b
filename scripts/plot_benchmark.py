"""Per-block latency plot of benchmark rows (scripts/benchmark.py JSON), prompt switches marked.

    python scripts/plot_benchmark.py benchmarks/results/ROW.json [ROW2.json ...] --out benchmarks/latency.png
"""
import argparse
import json
import sys
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("rows", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(11, 4.5))
    for path in args.rows:
        row = json.loads(path.read_text())
        F = row["config"]["generation"]["num_frame_per_block"]
        x = [i * F for i in range(len(row["blocks_ms"]))]
        label = f"{row['path']} DiT"
        ax.plot(x, [ms / F for ms in row["blocks_ms"]], lw=1.1, label=label)
        if row.get("blocks_vae_ms"):
            ax.plot(x, [(d + v) / F for d, v in zip(row["blocks_ms"], row["blocks_vae_ms"])], lw=1.1,
                    label=f"{row['path']} DiT + VAE")
    cfg = json.loads(args.rows[0].read_text())["config"]
    for f in cfg["prompts"]["switch_frames"]:
        ax.axvline(-(-f // F) * F, color="gray", ls="--", lw=0.8)
    first = json.loads(args.rows[0].read_text())
    ax.set_title(f"{first['device']}, {first['model']}, batch {first['batch']}, {first['date']}")
    ax.set_xlabel("latent frame (block start); dashed: prompt switch")
    ax.set_ylabel("ms per latent frame")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Live prompts: stream a video while new prompts arrive on standard input, one per line.

    python scripts/live.py                      # tiny model; type a prompt and Enter, `quit` to stop
    python scripts/live.py model=wan_1_3b checkpoint=longlive compile=default live.max_frames=480

The first prompt is prompts.texts[0]. A line is encoded when it arrives (between blocks, a reader
thread queues it) and takes over at the next block start with the re-cache, exactly as a scheduled
switch; lines that arrive together take successive block starts, in order. Empty lines are ignored;
`quit` or Ctrl-C (SIGINT) stops after the block in progress, with a valid video and timings.json, exit
code 0 (a second Ctrl-C aborts at once: exit 130, the partial video removed); at the end of input
generation goes on up to live.max_frames. Batch size 1 only. Writes into Hydra's run directory:
video.mp4 (streamed, finalized on exit), one PNG per video frame in live.frames_dir (default frames/,
each written atomically), latency.png, config.yaml, timings.json (per-block times, the prompts and the
block starts where they took over, why it stopped: max_frames, quit, interrupt or error) and
latents.safetensors when output.latents is on.
"""
import json
import logging
import os
import queue
import signal
import sys
import threading
import time
from collections import deque
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig, OmegaConf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from compile.recipe import compile_vae, optimize, use_cuda_graphs, warm_up  # noqa: E402
from model.pipeline import PromptSegment, StreamingPipeline, check_num_frames  # noqa: E402
from scripts.generate import (BlockTimer, NonFiniteError, _int, build_model, build_prompt_encoder,  # noqa: E402
                              build_vae, check_writable, non_finite, plan_memory, save_tensors, run_summary,
                              seeded_noise, validate, vae_compile_options)
from scripts.video import Mp4Writer, latency_plot, to_uint8  # noqa: E402

log = logging.getLogger("longlive_fast")


def validate_live(cfg: DictConfig) -> tuple:
    """`validate` plus the live keys; returns (spec, max_frames). One-line ValueErrors naming the field."""
    batch = _int(cfg.batch_size, "batch_size")
    if batch != 1:
        raise ValueError(f"batch_size: live mode streams one video; got batch_size={batch}, use batch_size=1")
    spec = validate(cfg)
    if not spec.video:
        raise ValueError("output.video: live mode streams the decoded frames; set output.video=true")
    if not cfg.output.get("mp4", True):
        raise ValueError("output.mp4: live mode writes the mp4 as it streams; set output.mp4=true")
    max_frames = _int(cfg.live.max_frames, "live.max_frames")
    try:
        check_num_frames(max_frames, spec.generation.num_frame_per_block)
    except ValueError as e:
        raise ValueError(str(e).replace("num_frames", "live.max_frames", 1)) from None
    return spec, max_frames


class LivePrompts:
    """Prompt lines from a file descriptor: a daemon thread queues them as they come; `poll` (main thread,
    between blocks) encodes the new ones; `take` is the pipeline's `next_prompt`."""

    def __init__(self, encode, fd: int = 0):
        self.encode = encode
        self.lines = queue.Queue()
        self.pending = deque()             # (text, embeds) encoded, waiting for a block start
        self.taken = {}                    # block start -> text
        self.quit = self.eof = False
        threading.Thread(target=self._read, args=(fd,), daemon=True, name="live-stdin").start()

    def _read(self, fd: int) -> None:
        # os.read, not sys.stdin: a daemon thread blocked inside a buffered reader can abort interpreter exit
        buf = b""
        while chunk := os.read(fd, 4096):
            *lines, buf = (buf + chunk).split(b"\n")
            for line in lines:
                self.lines.put(line.decode(errors="replace"))
        if buf:
            self.lines.put(buf.decode(errors="replace"))
        self.lines.put(None)

    def poll(self) -> int:
        """Handle the lines that arrived; returns how many prompts were encoded."""
        new = []
        while not self.quit:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                break
            if line is None:
                self.eof = True
                log.info("end of input: generating up to live.max_frames")
            elif line.strip() == "quit":
                self.quit = True
            elif line.strip():
                new.append(line.strip())
        if new:
            self.pending.extend(zip(new, self.encode(new)))
        return len(new)

    def take(self, first_frame: int):
        if not self.pending:
            return None
        text, embeds = self.pending.popleft()
        self.taken[first_frame] = text
        return embeds


class StopOnInterrupt:
    """While active, Ctrl-C (SIGINT) only sets `requested`: the stream stops after the block in progress,
    as `quit` does. A second Ctrl-C raises KeyboardInterrupt at once. The previous handler comes back on exit.
    Signal handlers belong to the main thread; elsewhere this does nothing."""

    def __init__(self):
        self.requested = False
        self.previous = None

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        log.info("interrupt: stopping after the block in progress (Ctrl-C again to abort)")

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def write_pngs(folder: Path, first_index: int, frames: torch.Tensor) -> None:
    """frames [F, 3, H, W] in [-1, 1] -> frame_<index>.png, each through a temporary name and os.replace."""
    from PIL import Image
    for k, pixels in enumerate(to_uint8(frames)):
        path = folder / f"frame_{first_index + k:06d}.png"
        tmp = folder / f".{path.name}.tmp"
        Image.fromarray(pixels).save(tmp, format="PNG", compress_level=1)
        os.replace(tmp, path)


def run_live(cfg: DictConfig, out_dir: Path, fd: int = 0) -> dict:
    spec, max_frames = validate_live(cfg)
    frames_dir = Path(cfg.live.frames_dir) if cfg.live.frames_dir else out_dir / "frames"
    check_writable(out_dir)
    check_writable(frames_dir)
    plan = plan_memory(spec, cfg, live=True)
    per_frame = bool(cfg.output.vae_per_frame)
    torch.set_grad_enabled(False)
    t0 = time.perf_counter()
    encoder = build_prompt_encoder(spec)
    first_text = spec.texts[0][0]
    first = encoder.encode([first_text])[0]
    model = optimize(build_model(spec), spec.compile, spec.quant)
    vae = compile_vae(build_vae(spec), spec.compile, **vae_compile_options(spec))
    pipe = use_cuda_graphs(StreamingPipeline(model, spec.generation, 1, spec.latent_hw), spec.compile)
    setup_s = time.perf_counter() - t0
    warmup_s = None
    if spec.compile.mode != "none":
        warmup_s = warm_up(pipe, [[PromptSegment(0, first, first_text)]], lambda: seeded_noise(spec), vae, per_frame)

    F = spec.generation.num_frame_per_block
    prompts = LivePrompts(encoder.encode, fd)
    prompts.taken[0] = first_text
    log.info("live: %s on %s, up to %d latent frames; type a prompt and Enter to switch at the next block, "
             "`quit` or Ctrl-C to stop", cfg.model.preset, spec.device, max_frames)
    blocks, latents, stopped, failure = [], [], "max_frames", None
    with StopOnInterrupt() as interrupt, Mp4Writer(out_dir / "video.mp4", fps=spec.fps) as writer:
        stream = vae.new_stream(1, spec.latent_hw)
        timer = BlockTimer(spec.device)
        for block in pipe.stream_live(first, prompts.take, max_frames, seeded_noise(spec)):
            row = {"block": block.index, "first_frame": block.first_frame, "ms": timer.lap(),
                   "switched": list(block.switched)}
            if block.switched:
                row["prompt"] = prompts.taken[block.first_frame]
            failure = non_finite(block, F, out_dir)
            if failure is not None:
                break
            if cfg.output.latents:
                latents.append(block.latents.cpu())
            video = vae.decode_block(block.latents, stream, per_frame=per_frame)[0]   # [Fv, 3, H, W]
            row["vae_ms"] = timer.lap()
            write_pngs(frames_dir, writer.num_frames, video)
            writer.write(video)
            row["write_ms"] = timer.lap()
            if prompts.poll():
                row["encode_ms"] = timer.lap()
            blocks.append(row)
            log.info("block %d: latent frames %d-%d, %.0f ms DiT, %.0f ms VAE%s", block.index, block.first_frame,
                     block.first_frame + F - 1, row["ms"], row["vae_ms"],
                     f", switched to {row['prompt']!r}" if block.switched else "")
            if prompts.quit or interrupt.requested:
                stopped = "quit" if prompts.quit else "interrupt"
                break
    if prompts.pending:
        log.info("quit: %d prompts that had not started are dropped", len(prompts.pending))

    save_tensors(out_dir, {"latents": torch.cat(latents, dim=1).contiguous()} if latents else {})
    OmegaConf.save(cfg, out_dir / "config.yaml", resolve=True)
    timings = {
        **run_summary(cfg, spec, blocks, setup_s, warmup_s, plan),
        "max_frames": max_frames, "num_frames": len(blocks) * F, "stopped": "error" if failure else stopped,
        "prompts": [{"first_frame": f, "text": t} for f, t in sorted(prompts.taken.items())
                    if f < len(blocks) * F or f == 0],
        "video_frames": writer.num_frames, "frames_dir": str(frames_dir),
        "blocks": blocks,
    }
    (out_dir / "timings.json").write_text(json.dumps(timings, indent=1))
    if blocks:
        latency_plot(blocks, F, out_dir / "latency.png", f"live, {cfg.model.preset}, {timings['device']}")
    if failure is not None:
        raise failure
    log.info("%s: %d latent frames (%d video frames, %d prompts) in %.2f s; wrote %s", stopped,
             timings["num_frames"], writer.num_frames, len(timings["prompts"]), timings["total_s"], out_dir)
    return timings


@hydra.main(version_base="1.3", config_path="../conf", config_name="live")
def main(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig
    try:
        run_live(cfg, Path(HydraConfig.get().runtime.output_dir))
    except (ValueError, OSError, NonFiniteError) as e:
        log.error("error: %s", e)
        sys.exit(3 if isinstance(e, NonFiniteError) else 2)
    except KeyboardInterrupt:       # before the stream started, or a second Ctrl-C: the shell's convention
        log.error("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()

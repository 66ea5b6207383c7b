"""Live prompt mode: prompts typed on stdin while the video streams switch at the next block start with
the re-cache, exactly as a scheduled switch; `quit`, Ctrl-C and end of input stop cleanly with a valid video."""
import json
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from PIL import Image
from torch.testing import assert_close

from model.config import GenerationConfig
from model.noise import SeededNoise
from model.pipeline import StreamingPipeline
from scripts.live import validate_live
from test_generate import decoded_frames

from helpers import FRAME_SHAPE, LATENT_HW, prompt_embeds, run, schedule, small_model

ROOT = Path(__file__).resolve().parents[1]
FIRST = "A red fox trots through fresh snow between tall pines at dawn, soft golden light, cinematic."


def live_cfg(*overrides):
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(config_name="live", overrides=list(overrides))


def start_live(out_dir, *overrides):
    return subprocess.Popen([sys.executable, "-u", "scripts/live.py", "device=cpu", f"hydra.run.dir={out_dir}",
                             *overrides], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


class Output:
    """The process's output lines, read by a thread so that waiting for one can time out."""

    def __init__(self, proc):
        self.lines, self.seen = queue.Queue(), []
        threading.Thread(target=lambda: [self.lines.put(line) for line in proc.stdout], daemon=True).start()

    def wait_for(self, text, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"no {text!r} in the output:\n{''.join(self.seen)[-3000:]}")

    def text(self):
        """Everything printed so far (for failure messages)."""
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return "".join(self.seen)[-3000:]


def check_outputs(out_dir, frames_dir, timings):
    """A finalized mp4 and one PNG per video frame, both with 1 + 4 (T - 1) frames; no temporary files."""
    latent = timings["num_frames"]
    assert latent == 3 * len(timings["blocks"]) > 0
    video = decoded_frames(out_dir / "video.mp4")
    assert len(video) == 1 + 4 * (latent - 1) == timings["video_frames"]
    pngs = sorted(frames_dir.iterdir())
    assert [p.name for p in pngs] == [f"frame_{i:06d}.png" for i in range(len(video))]
    pixels = [np.asarray(Image.open(p)).astype(int) for p in pngs]
    assert pixels[0].shape == video[0].shape == (128, 128, 3)
    # PNG i is video frame i (H.264 is lossy: close, not equal), and distinct frames are far apart
    assert max(np.abs(p - v).mean() for p, v in zip(pixels, video)) < 30 < np.abs(pixels[0] - pixels[-1]).mean()
    assert not [p for p in [*out_dir.rglob("*"), *frames_dir.iterdir()] if "tmp" in p.name]


def test_prompts_typed_while_streaming_switch_at_the_next_block_and_quit_finalizes(tmp_path):
    out_dir, frames_dir = tmp_path / "run", tmp_path / "png"
    proc = start_live(out_dir, "live.max_frames=60", f"live.frames_dir={frames_dir}")
    out = Output(proc)
    try:
        out.wait_for("block 0:")
        for prompt in ("a boat on a lake", "", "a castle at night"):   # the empty line is ignored
            proc.stdin.write(prompt + "\n")
            proc.stdin.flush()
            if prompt:
                out.wait_for(f"switched to {prompt!r}")
        proc.stdin.write("quit\n")
        proc.stdin.close()
        assert proc.wait(timeout=120) == 0, "".join(out.seen)[-3000:]
    finally:
        proc.kill()
    timings = json.loads((out_dir / "timings.json").read_text())
    assert timings["stopped"] == "quit" and timings["num_frames"] < 60
    switched = [b for b in timings["blocks"] if b["switched"]]
    assert [(b["switched"], b["prompt"]) for b in switched] == [([0], "a boat on a lake"), ([0], "a castle at night")]
    assert timings["prompts"] == [{"first_frame": 0, "text": FIRST}] + [
        {"first_frame": b["first_frame"], "text": b["prompt"]} for b in switched]
    assert 0 < switched[0]["first_frame"] < switched[1]["first_frame"]
    by_index = {b["block"]: b for b in timings["blocks"]}            # encoded between blocks, used at the next
    assert all("encode_ms" in by_index[b["block"] - 1] for b in switched)
    assert len(timings["switch_latency_ms"]) == 2
    check_outputs(out_dir, frames_dir, timings)


def test_end_of_input_runs_to_max_frames(tmp_path):
    """A prompt then EOF (no quit): the prompt still takes over, the run stops at live.max_frames."""
    out = subprocess.run([sys.executable, "scripts/live.py", "device=cpu", f"hydra.run.dir={tmp_path}",
                          "live.max_frames=12"], cwd=ROOT, input="a lighthouse in a storm\n",
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    timings = json.loads((tmp_path / "timings.json").read_text())
    assert timings["stopped"] == "max_frames" and timings["num_frames"] == 12
    assert [b["first_frame"] for b in timings["blocks"]] == [0, 3, 6, 9]
    assert [b.get("prompt") for b in timings["blocks"] if b["switched"]] == ["a lighthouse in a storm"]
    check_outputs(tmp_path, tmp_path / "frames", timings)


def test_ctrl_c_stops_after_the_block_in_progress_like_quit(tmp_path):
    """SIGINT once the first frames are out: the block in progress finishes, the mp4 is finalized with the
    frames made so far, timings.json says why it stopped, exit code 0."""
    out_dir, frames_dir = tmp_path / "run", tmp_path / "png"
    proc = start_live(out_dir, "live.max_frames=300", f"live.frames_dir={frames_dir}")
    out = Output(proc)                                 # stdin stays open: no end of input, no quit
    try:
        deadline = time.monotonic() + 120
        while not (frames_dir.is_dir() and any(frames_dir.glob("frame_*.png"))):
            assert proc.poll() is None and time.monotonic() < deadline, out.text()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0, out.text()
    finally:
        proc.kill()
    timings = json.loads((out_dir / "timings.json").read_text())
    assert timings["stopped"] == "interrupt" and 0 < timings["num_frames"] < 300
    check_outputs(out_dir, frames_dir, timings)        # PyAV decodes 1 + 4 (T - 1) frames, one PNG each


def test_live_prompts_give_the_same_latents_as_the_equivalent_schedule():
    """Prompts taken at block starts 6 and 15 (past the 12-frame window) == a static schedule [6, 15]."""
    arrivals, asked = {6: prompt_embeds(2), 15: prompt_embeds(3)}, []

    def next_prompt(first_frame):
        asked.append(first_frame)
        return arrivals.get(first_frame)

    pipe = StreamingPipeline(small_model(), GenerationConfig(), 1, LATENT_HW)
    calls = []
    blocks = list(pipe.stream_live(prompt_embeds(1), next_prompt, 21,
                                   SeededNoise([7], FRAME_SHAPE, torch.float32, "cpu"),
                                   lambda rec: calls.append((rec.phase, rec.first_frame, rec.num_frames))))
    static = run([schedule([6, 15], [1, 2, 3])], [7], 21)
    assert asked == [3, 6, 9, 12, 15, 18]                       # every block start but the first
    assert [b.switched for b in blocks] == [b.switched for b in static.blocks] == [(), (), (0,), (), (), (0,), ()]
    assert calls == [(c.phase, c.first_frame, c.num_frames) for c in static.calls]
    assert_close(torch.cat([b.latents for b in blocks], dim=1), static.latents, rtol=0, atol=0)
    unswitched = run([schedule([], [1])], [7], 21).latents      # the switches do change the video
    assert_close(static.latents[:, :6], unswitched[:, :6], rtol=0, atol=0)
    assert not torch.allclose(static.latents[:, 6:], unswitched[:, 6:])


@pytest.mark.parametrize("overrides, message", [
    (["batch_size=2"], "batch_size: live mode streams one video; got batch_size=2, use batch_size=1"),
    (["live.max_frames=10"], "live.max_frames: 10 is not a multiple of num_frame_per_block=3"),
    (["output.video=false"], "output.video: live mode streams"),
])
def test_live_refuses_bad_input_in_one_line(overrides, message):
    with pytest.raises(ValueError) as err:
        validate_live(live_cfg("device=cpu", *overrides))
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_pipeline_live_stream_is_batch_one_only():
    pipe = StreamingPipeline(small_model(), GenerationConfig(), 2, LATENT_HW)
    with pytest.raises(ValueError, match="batch_size: live prompts drive one sample; got batch_size=2"):
        next(pipe.stream_live(prompt_embeds(1), lambda s: None, 6, SeededNoise([0, 1], FRAME_SHAPE, torch.float32, "cpu")))

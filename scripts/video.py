"""Video out: an H.264 mp4 written block by block and atomically, first/last stills, the latency plot."""
import os
import threading
from pathlib import Path
from queue import Queue

import numpy as np
import torch


def pixels_uint8(frames: torch.Tensor) -> torch.Tensor:
    """Pixels in [-1, 1] -> uint8 of the same shape, on the frames' device, as LongLive saves them
    (x/2 + 0.5, x255, truncated)."""
    return ((frames.float() / 2 + 0.5).clamp(0, 1) * 255).to(torch.uint8)


def to_uint8(frames: torch.Tensor) -> np.ndarray:
    """[F, 3, H, W] pixels in [-1, 1] -> [F, H, W, 3] uint8 numpy (`pixels_uint8`, channels last, on the host)."""
    return pixels_uint8(frames).permute(0, 2, 3, 1).contiguous().cpu().numpy()


class Mp4Writer:
    """Streams frames into `path` through a temporary file that is renamed on success and removed on failure.

    Use as a context manager; `write` takes [F, 3, H, W] pixel blocks in [-1, 1], converts them to uint8
    (on their device) and hands them to an encoder thread, so H.264 encoding overlaps the next block's
    GPU work instead of leaving the GPU idle (at most `queue` blocks wait; PyAV releases the GIL while it
    encodes). An encoding error is raised by the next `write` or on exit. Only the encoder's buffers and
    the queued blocks are held, so memory does not grow with the video. Keeps the first and last frames
    for stills."""

    def __init__(self, path, fps: int = 16, crf: int = 18, queue: int = 2):
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.stem}.tmp{self.path.suffix}")
        self.fps, self.crf = fps, crf
        self.container = self.stream = None
        self.first = self.last = None
        self.num_frames = 0
        self._queue = Queue(maxsize=queue)
        self._thread = None
        self._error = None

    def __enter__(self):
        import av
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.container = av.open(str(self.tmp), mode="w")
        except (OSError, av.error.FFmpegError) as e:
            raise OSError(f"cannot write {self.path}: {e}") from e
        self._thread = threading.Thread(target=self._encode_loop, name="mp4-encoder", daemon=True)
        self._thread.start()
        return self

    def _encode_loop(self) -> None:
        import av
        while True:
            pixels = self._queue.get()
            if pixels is None:
                return
            if self._error is not None:
                continue                          # drain: the error is raised in the caller's thread
            try:
                if self.stream is None:
                    h, w = pixels.shape[1:3]
                    self.stream = self.container.add_stream("libx264", rate=self.fps)
                    self.stream.width, self.stream.height, self.stream.pix_fmt = w, h, "yuv420p"
                    self.stream.options = {"crf": str(self.crf)}
                for frame in pixels:
                    for packet in self.stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                        self.container.mux(packet)
            except Exception as e:  # disk full, a vanished folder, ...: the temporary file goes on exit
                self._error = e

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise OSError(f"writing {self.path} failed ({self._error}); its temporary file is removed") \
                from self._error

    def write(self, frames: torch.Tensor) -> None:
        self._raise_if_failed()
        pixels = to_uint8(frames)
        if self.first is None:
            self.first = pixels[0].copy()
        self._queue.put(pixels)
        self.last = pixels[-1].copy()
        self.num_frames += len(pixels)

    def __exit__(self, exc_type, exc, tb):
        try:
            self._queue.put(None)
            self._thread.join()
            if exc_type is None:
                self._raise_if_failed()
                if self.stream is not None:
                    for packet in self.stream.encode():
                        self.container.mux(packet)
            self.container.close()
        except Exception:
            try:
                self.container.close()
            except Exception:
                pass                              # already failing: the first error is the one to report
            self.tmp.unlink(missing_ok=True)
            raise
        if exc_type is None and self.num_frames:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)
        return False

    def save_stills(self, first_path, last_path) -> None:
        from PIL import Image
        for arr, p in ((self.first, first_path), (self.last, last_path)):
            tmp = Path(p).with_name(f".{Path(p).name}.tmp")
            Image.fromarray(arr).save(tmp, format="PNG")
            os.replace(tmp, p)


def latency_plot(blocks: list, frames_per_block: int, path, title: str = "") -> None:
    """Per-block ms per latent frame over the run (DiT, VAE and both when present), switches marked."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    x = [b["first_frame"] for b in blocks]
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(x, [b["ms"] / frames_per_block for b in blocks], label="DiT block", lw=1.2)
    if all("vae_ms" in b for b in blocks):
        ax.plot(x, [b["vae_ms"] / frames_per_block for b in blocks], label="VAE decode", lw=1.2)
        ax.plot(x, [(b["ms"] + b["vae_ms"]) / frames_per_block for b in blocks], label="end to end", lw=1.2)
    for b in blocks:
        if b["switched"]:
            ax.axvline(b["first_frame"], color="gray", ls="--", lw=0.8)
    ax.set_xlabel("latent frame (block start); dashed: prompt switch")
    ax.set_ylabel("ms per latent frame")
    ax.set_title(title)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = Path(path).with_name(f".{Path(path).name}.tmp")
    fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    os.replace(tmp, path)

import sys
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


@pytest.fixture(autouse=True)
def _process_wide_attention_choice():
    """optimize() sets the attention backend (and FA3's key split / wave plan) for the whole process, as a run does
    once; a test that compiles for the GPU (backend fa3, a CUDA-only custom op) must not hand its choice to the CPU
    tests after it (on a GPU machine the full suite otherwise fails in test_determinism)."""
    from compile import backends
    from model.attention import get_backend, set_backend
    before, split, waves, halves = get_backend(), backends._SPLIT, backends._WAVES, backends._HALVES
    yield
    set_backend(before)
    backends.set_fa3_split(split)
    backends.set_fa3_waves(waves)
    backends.set_fa3_halves(halves)

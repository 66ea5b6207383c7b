"""Debugging shim for benchmarks/gpu_warmstart_keys2.sh (not part of the package): put this folder on PYTHONPATH
and every Triton compile in the process (and its compile workers) appends the parts of its cache key to
$KEYSHIM_LOG.<pid>, so that two runs' keys for the same kernel can be compared part by part."""
import json
import os

LOG = os.environ.get("KEYSHIM_LOG")


def _install():
    try:
        import triton.compiler.compiler as cc
    except Exception:
        return
    orig = getattr(cc, "get_cache_key", None)
    if orig is None:
        return

    def get_cache_key(src, backend, options, env_vars=None, *a, **k):
        key = orig(src, backend, options, env_vars=env_vars, *a, **k)
        try:
            parts = {"name": getattr(src, "name", None) or getattr(getattr(src, "fn", None), "__name__", None),
                     "triton_key": cc.triton_key()[-16:], "src": src.hash(), "backend": backend.hash(),
                     "options": options.hash(), "env": sorted((env_vars or {}).items()),
                     "fn_cache_key": getattr(getattr(src, "fn", None), "cache_key", None),
                     "attrs": str(getattr(src, "attrs", None))[:300], "constants": str(getattr(src, "constants", None))[:300],
                     "signature": str(getattr(src, "signature", None))[:300], "key_tail": key[-200:]}
            with open(f"{LOG}.{os.getpid()}", "a") as f:
                f.write(json.dumps(parts, default=str) + "\n")
        except Exception as e:      # never break a compile
            with open(f"{LOG}.{os.getpid()}", "a") as f:
                f.write(json.dumps({"error": repr(e)}) + "\n")
        return key

    cc.get_cache_key = get_cache_key


if LOG:
    _install()

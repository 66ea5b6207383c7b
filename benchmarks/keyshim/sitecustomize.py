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
        parts = {}
        for part, get in (("name", lambda: getattr(src, "name", None)), ("src", src.hash), ("backend", backend.hash),
                          ("options", options.hash), ("env", lambda: sorted((env_vars or {}).items())),
                          ("fn_cache_key", lambda: src.fn.cache_key), ("attrs", lambda: str(src.attrs)[:300]),
                          ("constants", lambda: str(src.constants)[:300]),
                          ("signature", lambda: str(src.signature)[:300]), ("key", lambda: key)):
            try:
                parts[part] = get()
            except Exception as e:      # never break a compile
                parts[part] = "error: " + repr(e)
        with open(f"{LOG}.{os.getpid()}", "a") as f:
            f.write(json.dumps(parts, default=str) + "\n")
        return key

    cc.get_cache_key = get_cache_key


if LOG:
    _install()

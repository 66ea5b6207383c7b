"""The kernel benchmarks' two ways of timing a GPU call (CUDA events; medians in microseconds).

    event_median_us(fn)   fn() between two events, `iters` times after `warmup` calls: what one eager call costs,
                          the host's launch included where the GPU waits for it
    graph_median_us(fn)   `calls` calls of fn() captured in one CUDA graph (`captured`), the replays timed, per
                          call: what the kernels cost as the model's graphs run them, without the host
"""
import statistics

import torch


def _median_event_us(run, iters, per=1):
    times = []
    for _ in range(iters):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        run()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) * 1e3 / per)
    return statistics.median(times)


def event_median_us(fn, warmup=5, iters=20):
    for _ in range(warmup):
        fn()
    return _median_event_us(fn, iters)


def captured(fn, calls=20, prime=3):
    """A CUDA graph of `calls` calls of fn(), after `prime` eager calls on a side stream (allocations and
    compiles before the capture)."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(prime):
            fn()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(calls):
            fn()
    return graph


def graph_median_us(fn, calls=20, prime=3, warmup=3, iters=20):
    """The replays of captured(fn, calls, prime), per call."""
    graph = captured(fn, calls, prime)
    for _ in range(warmup):
        graph.replay()
    return _median_event_us(graph.replay, iters, per=calls)

"""How the model is made fast: attention backend, quantization, compiler flags, torch.compile and
CUDA graphs, applied in one place in a fixed order.

Not implemented yet (the compile issue); `model/` is written for it: static caches, device-tensor
positions, no host syncs in the per-call path.
"""

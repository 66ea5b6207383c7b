"""How the model is made fast: attention backend, quantization, compiler flags, then torch.compile of
one transformer block shared by all blocks (recipe.py), and the attention kernels (backends.py)."""

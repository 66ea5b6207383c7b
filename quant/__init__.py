"""How the transformer's weights shrink: torchao INT8/FP8 schemes chosen by module name (schemes.py);
the VAE and the text encoder are never quantized."""

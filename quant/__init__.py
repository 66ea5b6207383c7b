"""How the transformer's weights shrink: torchao INT8/FP8 schemes chosen by module name, the VAE and
text encoder never quantized.

Not implemented yet (the quantization issue).
"""

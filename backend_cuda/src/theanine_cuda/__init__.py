"""theanine-cuda: the CUDA backend (see backend.py); importing it needs no driver."""

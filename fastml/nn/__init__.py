"""Neural networks with explicit forward and backward passes (PyTorch-like API)."""

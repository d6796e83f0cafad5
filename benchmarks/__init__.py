"""chainrule's benchmark suite: ``python -m benchmarks`` times the dynamic engine against hand-written
floats, micrograd 0.1.0 and PyTorch 0-d tensors on the same workloads, after checking they agree."""

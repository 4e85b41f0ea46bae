"""Benchmarks: `python -m bench` (bench/__main__.py); docs/performance.md explains them."""

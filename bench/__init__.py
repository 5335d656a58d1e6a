"""taskcli benchmarks: run with ``python bench/run.py [--quick]`` (see bench/README.md)."""

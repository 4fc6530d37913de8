"""Benchmark of the export hot path against its raw floors and a naive baseline (not a test)."""

"""Benchmark case modules, one per suite; each registers its cases on import."""

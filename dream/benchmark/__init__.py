"""YdelsesAktivitetBenchmark: monthly counts per kommune/region/land with disclosure control
(``ydelsesaktivitet_benchmark``) and its rates, ranks and averages (``ydelsesaktivitet_benchmark_noegletal``).
See docs/benchmark.md."""

from dream.benchmark.pipeline import build_benchmark

__all__ = ["build_benchmark"]

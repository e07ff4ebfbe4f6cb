"""`hub bench`: measured throughput, latency and memory of the real pipeline (see BENCHMARKS.md)."""

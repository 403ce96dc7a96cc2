"""The benchmarks: speed beside peer engines, search quality, hostile requests, a soak test (RESULTS.md)."""

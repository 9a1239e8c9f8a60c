"""The synthetic telco world used by the demo, the tests and the benchmarks."""

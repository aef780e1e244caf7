"""Benchmarks (not tests): `python -m bench [--quick]` measures Faultline against limits measured in the same run."""

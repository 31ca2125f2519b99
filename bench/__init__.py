"""Benchmarks of the hub (`make bench`)."""

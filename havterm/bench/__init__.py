"""Benchmarks that print their numbers (``havterm bench ...``)."""

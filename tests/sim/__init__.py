"""Loopback tests for the embedded exchange (havterm.sim)."""

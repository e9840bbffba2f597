"""havterm.sim: an embedded, Kraken v2-compatible exchange for the demo, tests and benchmarks."""

from havterm.sim.exchange import Exchange, SimConfig

__all__ = ["Exchange", "SimConfig"]

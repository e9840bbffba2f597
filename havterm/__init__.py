"""havterm: a terminal trading dashboard and exact client for Kraken WebSocket v2."""

__version__ = "0.1.0"

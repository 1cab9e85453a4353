"""Shared pytest configuration: float64 torch, one thread, and the Agg backend."""

import matplotlib

matplotlib.use("Agg")

"""Checkpoint: entry screening for public service buildings (agent core)."""

__version__ = "0.1.0"

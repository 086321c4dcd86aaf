"""Ayni: community waste to income in Peru."""

__version__ = "0.1.0"

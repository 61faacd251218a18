"""Datasets the project makes itself (no downloads)."""

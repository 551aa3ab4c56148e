"""Vinted handlers (being written)."""

"""Etsy handlers (being written)."""

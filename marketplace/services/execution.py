"""Moved to marketplace.engine. Kept for marketplace.consumers (owned elsewhere), which wakes
the jobs waiting for the Vinted extension from here; new code imports the engine."""

from marketplace.engine.sweep import jobs_wake_waiting

__all__ = ["jobs_wake_waiting"]

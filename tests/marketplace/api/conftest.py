from tests.api_support import intruder, viewer

__all__ = ["intruder", "viewer"]

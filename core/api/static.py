"""WhiteNoise, quiet about an uncollected STATIC_ROOT: with RELIST_STATIC_USE_FINDERS (the
default) files come straight from the apps' static folders, and `collectstatic` is optional."""

import os
from typing import Any

from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    def add_files(self, root: Any, prefix: str | None = None) -> None:
        if root is not None and not os.path.isdir(root) and self.use_finders:
            return
        super().add_files(root, prefix)

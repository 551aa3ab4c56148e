#!/usr/bin/env bash
# tests/browser drives Debian's chromium package (Playwright never downloads a browser here).
# Install it when it is missing and we may: as root with apt-get. Elsewhere the browser tests
# skip, saying why.
set -uo pipefail
if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: installing Debian's chromium for tests/browser" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
    || echo "ensure-chromium: apt-get could not install chromium; tests/browser will skip" >&2
else
  echo "ensure-chromium: no chromium and not root with apt-get; tests/browser will skip" >&2
fi
exit 0

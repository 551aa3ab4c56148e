"""The README's demo command, in its short mode, as CI runs it: the whole system comes up,
a real batch publishes to the three marketplaces, and the command exits 0."""

import os
import subprocess
import sys

import pytest

from tests.integration.workers import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_demo_short_mode_finishes_the_batch_and_exits_0():
    # given: its own database and broker, so the run touches nothing else
    env = {
        **os.environ,
        "DEMO_DATABASE_URL": "postgres://postgres@127.0.0.1:5432/relist_demo_ci",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/3",
        "REDIS_URL": "redis://127.0.0.1:6379/4",
        "CHANNELS_REDIS_URL": "redis://127.0.0.1:6379/11",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    # when
    result = subprocess.run(
        [sys.executable, "-m", "demo", "--short"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    # then
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = result.stdout.splitlines()
    summary = [
        line.split() for line in lines if line.split()[:1] in (["ebay"], ["etsy"], ["vinted"])
    ]
    assert [row[0] for row in summary] == ["ebay", "etsy", "vinted"]
    assert sum(int(row[1]) + int(row[2]) for row in summary) == 12  # 4 products × 3, all ended
    assert any(line.startswith("Batch ") and " in " in line for line in lines)

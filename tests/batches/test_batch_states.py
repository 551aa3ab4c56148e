"""derive_batch_status: the rule of docs/state-machine.md, over a table."""

import pytest

from batches.states import derive_batch_status


@pytest.mark.parametrize(
    ("total", "completed", "processed", "started", "cancelled", "status"),
    [
        (3, 0, 0, False, False, "pending"),
        (3, 0, 0, True, False, "running"),
        (3, 1, 2, True, False, "running"),
        (3, 0, 2, False, False, "pending"),
        (3, 3, 3, True, False, "completed"),
        (3, 0, 3, True, False, "failed"),
        (3, 0, 3, False, False, "failed"),
        (3, 1, 3, True, False, "partially_failed"),
        (3, 2, 3, True, False, "partially_failed"),
        (3, 0, 0, False, True, "cancelled"),
        (3, 3, 3, True, True, "cancelled"),
        (0, 0, 0, False, False, "pending"),
    ],
    ids=[
        "none-started",
        "one-started",
        "some-done-some-running",
        "some-expired-none-started",
        "all-completed",
        "all-failed",
        "all-expired-never-started",
        "one-of-three-completed",
        "two-of-three-completed",
        "cancelled-before-start",
        "cancelled-wins-over-completed",
        "empty",
    ],
)
def test_derive_batch_status(total, completed, processed, started, cancelled, status):
    # given a batch's counters / when its status is derived / then it follows the table
    assert (
        derive_batch_status(
            total=total,
            completed=completed,
            processed=processed,
            started=started,
            cancelled=cancelled,
        )
        == status
    )

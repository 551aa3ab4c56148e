"""Structured log lines: bound fields (job, batch …) and the record's own extra, then the tenant."""

import logging

from core.logging import StructuredFormatter, bind


def _line(**extra: object) -> str:
    record = logging.makeLogRecord({"name": "relist", "levelname": "INFO", "msg": "job.transition"})
    record.__dict__.update(extra)
    line = StructuredFormatter().format(record)
    return line.split(" INFO ", 1)[1]


def test_bound_fields_are_on_every_line_inside_the_block():
    # given fields bound for a job of a batch
    with bind(job=7, batch=3):
        # when a line is logged with its own extra
        inside = _line(to="paused")
    outside = _line(to="paused")

    # then the line inside carries them, the one after does not
    assert inside == 'relist job.transition job=7 batch=3 to="paused" tenant="public"'
    assert outside == 'relist job.transition to="paused" tenant="public"'


def test_nested_binds_merge_and_the_records_extra_wins():
    # given a batch bound, then a job inside it
    with bind(batch=3), bind(job=7, operator=1):
        # when a line names another job in its extra
        line = _line(job=8)

    # then the record's value wins over the bound one
    assert line == 'relist job.transition batch=3 job=8 operator=1 tenant="public"'

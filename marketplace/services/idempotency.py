"""Idempotent create requests: the first response under a key is stored with the request's
fingerprint and replayed for every repeat (DESIGN §3); the same key for a different request
raises IdempotencyConflict (422).

The services themselves already dedupe by key (job_create, batch_create), so a race between two
first requests makes one row; storing the rendered answer is what lets a repeat return the
*first* response even after the job has moved on, and what catches a different body (priority,
input data, product ids) that the services' own checks do not compare."""

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import User
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction

from core.errors import IdempotencyConflict
from marketplace.models import IdempotencyRecord

Answer = tuple[int, Any]


def request_fingerprint(payload: Any) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotent_create(
    *,
    scope: str,
    key: str,
    payload: Any,
    create: Callable[[], Answer],
    user: User | None = None,
) -> Answer:
    """Run `create` (a service call and its rendering) once per (scope, key); returns
    (status, body), the stored ones for a repeat."""
    fingerprint = request_fingerprint(payload)
    record = IdempotencyRecord.objects.filter(scope=scope, key=key).first()
    if record is not None:
        return _replay(record, fingerprint=fingerprint, key=key)
    with transaction.atomic():
        status, body = create()
        record = IdempotencyRecord(
            scope=scope,
            key=key,
            fingerprint=fingerprint,
            response_status=status,
            response_body=json.dumps(body, cls=DjangoJSONEncoder),
            created_by=user,
        )
        try:
            with transaction.atomic():
                record.save()
        except IntegrityError:
            # A concurrent first request stored its answer first: that one is the first.
            winner = IdempotencyRecord.objects.get(scope=scope, key=key)
            return _replay(winner, fingerprint=fingerprint, key=key)
    return status, body


def _replay(record: IdempotencyRecord, *, fingerprint: str, key: str) -> Answer:
    if record.fingerprint != fingerprint:
        raise IdempotencyConflict(
            "This idempotency key was used for a different request.",
            details={"idempotency_key": key},
        )
    return record.response_status, json.loads(record.response_body)

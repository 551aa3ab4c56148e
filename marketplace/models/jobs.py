"""Jobs, their steps and their audit trail.

The job's state machine is declared here with django-fsm-2: one decorated method per row of the
transition table in DESIGN §2. A transition only sets fields; services save it inside atomic()
together with its JobEvent and the batch counters. ConcurrentTransitionMixin turns every save
into a compare-and-set on the status the row was read with, so two workers cannot both claim.
"""

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from marketplace.models.products import Product
from marketplace.states import (
    EventActor,
    JobPriority,
    JobStatus,
    Marketplace,
    TaskStatus,
    TaskType,
)

S = JobStatus

# The actions a user or an operator may ask for; the rest belong to workers and beat.
USER_ACTIONS = ("pause", "resume", "cancel", "retry")

_STATE = ("status", "updated_at")
# The columns each transition writes: saves never overwrite a flag another process just set.
TRANSITION_UPDATE_FIELDS: dict[str, tuple[str, ...]] = {
    "claim": (
        *_STATE,
        "attempts",
        "started_at",
        "heartbeat_at",
        "next_attempt_at",
        "status_reason",
        "claimed_by",
    ),
    "complete": (*_STATE, "finished_at", "result_data", "error_code", "error_message"),
    "defer_retry": (
        *_STATE,
        "next_attempt_at",
        "dispatched_at",
        "error_code",
        "error_message",
        "status_reason",
    ),
    "defer": (*_STATE, "attempts", "next_attempt_at", "dispatched_at", "status_reason"),
    "fail": (*_STATE, "finished_at", "error_code", "error_message"),
    "pause": (*_STATE, "pause_requested", "status_reason"),
    "resume": (*_STATE, "next_attempt_at", "dispatched_at", "status_reason", "expires_at"),
    "cancel": (*_STATE, "cancel_requested", "pause_requested", "finished_at", "status_reason"),
    "expire": (*_STATE, "finished_at", "error_code", "error_message"),
    "retry": (
        *_STATE,
        "attempts",
        "next_attempt_at",
        "dispatched_at",
        "expires_at",
        "finished_at",
        "error_code",
        "error_message",
        "status_reason",
    ),
}


class MarketplaceJobQuerySet(models.QuerySet["MarketplaceJob"]):
    def locked(self) -> "MarketplaceJobQuerySet":
        """The one way to lock job rows: callers must be inside atomic()."""
        return self.select_for_update(of=("self",))


class MarketplaceJob(ConcurrentTransitionMixin, models.Model):
    marketplace = models.CharField(max_length=16, choices=Marketplace.choices)
    # No single-column foreign-key indexes: every index is written by every non-HOT update of
    # the hottest table. Product and batch lookups use the (product, -id) and (batch, -id)
    # indexes below; action types and users are never searched from here.
    action_type = models.ForeignKey(
        "catalogue.MarketplaceActionType",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    product = models.ForeignKey(
        Product,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="jobs",
        db_index=False,
    )
    batch = models.ForeignKey(
        "batches.BatchJob",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="jobs",
        db_index=False,
    )
    status = FSMField(default=S.PENDING, choices=S.choices, protected=True)
    priority = models.PositiveSmallIntegerField(
        choices=JobPriority.choices, default=JobPriority.NORMAL
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    max_retries = models.PositiveSmallIntegerField(default=3)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    # Unique through Meta.constraints, not unique=True: on PostgreSQL unique=True adds a second
    # (varchar_pattern_ops) index for LIKE lookups nobody makes, written by every job insert.
    idempotency_key = models.CharField(max_length=200)
    input_data = models.JSONField(default=dict, blank=True)
    result_data = models.JSONField(default=dict, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    # Why a pending job is not running now (extension offline, rate limited, retry backoff).
    status_reason = models.CharField(max_length=300, blank=True)
    pause_requested = models.BooleanField(default=False)
    cancel_requested = models.BooleanField(default=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # When the last trigger (Celery message) for this job was sent: the sweep re-sends a pending
    # job whose trigger is older than a sweep interval once its queue has drained, so a lost
    # message is replaced without duplicating a healthy backlog.
    dispatched_at = models.DateTimeField(null=True, blank=True)
    # The worker process running it ("host:pid", engine.liveness): when that process is known
    # dead, the sweep recovers the job at once instead of waiting for a stale heartbeat.
    claimed_by = models.CharField(max_length=100, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        # Users live in public; a collector walking into tenant tables from there would
        # fail. The id stays as a plain reference (no constraint), like an audit log.
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,  # users live in public; the tenant schema must not depend on them
        db_index=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = MarketplaceJobQuerySet.as_manager()

    class Meta:
        ordering = ("-id",)
        # Few indexes, none on heartbeat_at or updated_at: a step boundary only writes those
        # two columns, so its UPDATE is HOT (no index entry written). Running jobs are few
        # (at most the worker slots), found through job_status_id_idx.
        indexes = [
            models.Index(
                fields=("next_attempt_at",),
                name="job_due_retry_idx",
                condition=models.Q(status=S.PENDING),
            ),
            models.Index(
                fields=("expires_at",), name="job_expiry_idx", condition=models.Q(status=S.PENDING)
            ),
            # The runner's top-up (engine.sql.TOP_UP) after every run of a tenant with held-back
            # jobs: the next pending jobs by priority then age, read off the index with a LIMIT
            # instead of sorting the tenant's whole backlog (2,000 rows for a 2,000-job batch).
            models.Index(
                fields=("marketplace", "priority", "id"),
                name="job_pending_next_idx",
                condition=models.Q(status=S.PENDING),
            ),
            # The API's job list of one batch, newest first: an index range scan even for an
            # old batch among a million jobs (the primary key scan would walk all newer ones).
            # Batch cancel, recount and enqueue use it too.
            models.Index(fields=("batch", "-id"), name="job_batch_id_idx"),
            models.Index(fields=("status", "-id"), name="job_status_id_idx"),
            models.Index(fields=("marketplace", "-id"), name="job_marketplace_id_idx"),
            models.Index(fields=("product", "-id"), name="job_product_id_idx"),
        ]
        constraints = [
            # The name PostgreSQL gave the column's UNIQUE when it was unique=True.
            models.UniqueConstraint(
                fields=("idempotency_key",), name="marketplace_marketplacejob_idempotency_key_key"
            )
        ]

    def __str__(self) -> str:
        return f"job {self.pk} {self.marketplace}:{self.status}"

    @property
    def is_terminal(self) -> bool:
        return self.status in {S.COMPLETED, S.FAILED, S.CANCELLED, S.EXPIRED}

    def refresh_from_db(
        self,
        using: str | None = None,
        fields: Any = None,
        from_queryset: Any = None,
    ) -> None:
        """Reload without lifting the status field's protection. django-fsm-2 lifts it on the
        field object, which all threads share: in a thread-pool worker, one thread restoring it
        made another thread's refresh raise AttributeError. Forgetting this instance's status
        instead lets the descriptor load it, as for a row read fresh."""
        if fields is None:  # every loaded field, as Django would (deferred ones stay deferred)
            self._prefetched_objects_cache: dict[str, Any] = {}
            fields = [f.attname for f in self._meta.concrete_fields if f.attname in self.__dict__]
        if "status" in fields:
            self.__dict__.pop("status", None)
        models.Model.refresh_from_db(self, using=using, fields=fields, from_queryset=from_queryset)
        self._update_initial_state()  # what ConcurrentTransitionMixin does after a refresh

    def allowed_actions(self) -> list[str]:
        names = {t.name for t in self.get_available_status_transitions()}  # type: ignore[attr-defined]
        return [action for action in USER_ACTIONS if action in names]

    # --- transitions: one per row of DESIGN §2; they set fields only (all take `now`) -----

    @transition(field=status, source=S.PENDING, target=S.RUNNING)
    def claim(self, *, now: datetime, claimer: str = "") -> None:
        self.attempts += 1
        self.claimed_by = claimer
        self.started_at = self.started_at or now
        self.heartbeat_at = now
        self.next_attempt_at = None
        self.status_reason = ""

    @transition(field=status, source=S.RUNNING, target=S.COMPLETED)
    def complete(self, *, now: datetime, result: dict[str, Any]) -> None:
        self.finished_at = now
        self.result_data = result
        self.error_code = ""
        self.error_message = ""

    @transition(field=status, source=S.RUNNING, target=S.PENDING)
    def defer_retry(
        self, *, now: datetime, next_attempt_at: datetime, error_code: str, message: str
    ) -> None:
        """A retryable failure with attempts left; the attempt stays counted. The worker
        re-sends its trigger (a countdown) at once."""
        self.next_attempt_at = next_attempt_at
        self.dispatched_at = now
        self.error_code = error_code
        self.error_message = message
        self.status_reason = f"Retrying after: {message}"

    @transition(field=status, source=S.RUNNING, target=S.PENDING)
    def defer(self, *, now: datetime, next_attempt_at: datetime | None, reason: str) -> None:
        """Not a failure (extension offline, own rate limit): the attempt is given back."""
        self.attempts = max(self.attempts - 1, 0)
        self.next_attempt_at = next_attempt_at
        # With a delay the worker re-sends the trigger; without one the job waits for an event.
        self.dispatched_at = now if next_attempt_at is not None else None
        self.status_reason = reason

    @transition(field=status, source=S.RUNNING, target=S.FAILED)
    def fail(self, *, now: datetime, error_code: str, message: str) -> None:
        self.finished_at = now
        self.error_code = error_code
        self.error_message = message

    @transition(field=status, source=[S.PENDING, S.RUNNING], target=S.PAUSED)
    def pause(self, *, now: datetime) -> None:
        self.pause_requested = False
        self.status_reason = ""

    @transition(field=status, source=S.PAUSED, target=S.PENDING)
    def resume(self, *, now: datetime, expires_at: datetime) -> None:
        self.next_attempt_at = None
        self.dispatched_at = now
        self.status_reason = ""
        self.expires_at = max(self.expires_at, expires_at)

    @transition(field=status, source=[S.PENDING, S.RUNNING, S.PAUSED], target=S.CANCELLED)
    def cancel(self, *, now: datetime) -> None:
        self.cancel_requested = False
        self.pause_requested = False
        self.finished_at = now
        self.status_reason = ""

    @transition(field=status, source=S.PENDING, target=S.EXPIRED)
    def expire(self, *, now: datetime) -> None:
        self.finished_at = now
        self.error_code = "expired"
        self.error_message = "The job expired before it could run."

    @transition(field=status, source=[S.FAILED, S.EXPIRED], target=S.PENDING)
    def retry(self, *, now: datetime, expires_at: datetime) -> None:
        """An explicit retry: attempts restart, succeeded steps are kept."""
        self.attempts = 0
        self.next_attempt_at = None
        self.dispatched_at = now
        self.expires_at = expires_at
        self.finished_at = None
        self.error_code = ""
        self.error_message = ""
        self.status_reason = ""


class MarketplaceTask(models.Model):
    """One ordered step of a job. Planned once; a retry re-runs only the steps not succeeded."""

    # (job, position) is unique, which indexes job first: no separate foreign-key index.
    job = models.ForeignKey(
        MarketplaceJob, on_delete=models.CASCADE, related_name="tasks", db_index=False
    )
    position = models.PositiveSmallIntegerField()
    task_type = models.CharField(max_length=16, choices=TaskType.choices)
    # The handler's step name ("upload_image"), stable across code changes of the description.
    name = models.CharField(max_length=64)
    description = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    payload = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    http_method = models.CharField(max_length=8, blank=True)
    http_path = models.CharField(max_length=300, blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("job", "position")
        constraints = [
            models.UniqueConstraint(fields=("job", "position"), name="task_unique_job_position")
        ]

    def __str__(self) -> str:
        return f"{self.job_id}#{self.position} {self.description}"


class JobEvent(models.Model):
    """The audit trail: one row per transition (and per operator request)."""

    # event_job_idx (job, id) serves every lookup by job: no separate foreign-key index.
    job = models.ForeignKey(
        MarketplaceJob, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    from_status = models.CharField(max_length=16, choices=JobStatus.choices)
    to_status = models.CharField(max_length=16, choices=JobStatus.choices)
    at = models.DateTimeField()
    actor = models.CharField(max_length=16, choices=EventActor.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        # Users live in public; a collector walking into tenant tables from there would
        # fail. The id stays as a plain reference (no constraint), like an audit log.
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
    )
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ("job", "id")
        indexes = [models.Index(fields=("job", "id"), name="event_job_idx")]

    def __str__(self) -> str:
        return f"{self.job_id}: {self.from_status}->{self.to_status} by {self.actor}"

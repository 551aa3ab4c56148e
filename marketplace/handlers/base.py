"""The handler contract.

A handler turns one job into ordered steps (`plan`) and performs one step at a time (`run_step`).
The runner persists the plan once, commits each step's result, and on a retry re-runs only the
steps that did not succeed. Results of earlier steps are available to later ones by step name.

Handlers raise the engine's error classes (core.errors): TransientMarketplaceError (retry with
backoff), PermanentMarketplaceError (fail now), JobDeferred (wait, no attempt consumed).

A step that takes long (pages, several calls) calls `ctx.heartbeat()` between them, so the sweep
never takes a live job for a dead worker's. `finish` records the listing it produced with
`ctx.record_listing(...)`: the engine writes it in the job's one completion statement.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar, cast

from marketplace.models import Listing, MarketplaceConnection, MarketplaceJob, Product
from marketplace.states import ListingStatus, TaskType

T = TypeVar("T")

# Why a pending Vinted job is not running: it waits for the extension to connect.
WAITING_FOR_EXTENSION = "Waiting for the Vinted extension to connect."


@dataclass(frozen=True, slots=True)
class ListingChange:
    """The listing a job produced, written with the job's completion."""

    status: ListingStatus
    external_id: str | None = None
    url: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StepPlan:
    name: str
    description: str
    task_type: TaskType = TaskType.DIRECT_HTTP
    payload: dict[str, Any] = field(default_factory=dict)
    http_method: str = ""
    http_path: str = ""


@dataclass(frozen=True, slots=True)
class StepInput:
    """What a handler gets for one step: the step's plan, how many times it was started
    (more than 1 means an earlier attempt may have reached the marketplace: reconcile before
    repeating a create), and the results of the steps before it, by name."""

    name: str
    position: int
    payload: dict[str, Any]
    attempts: int
    previous: dict[str, dict[str, Any]]

    @property
    def maybe_applied_before(self) -> bool:
        return self.attempts > 1


@dataclass(slots=True)
class JobContext:
    job: MarketplaceJob
    tenant_schema: str
    product: Product | None = None
    listing: Listing | None = None
    image_urls: list[str] = field(default_factory=list)
    listing_change: ListingChange | None = None
    # The shop's connection to the job's marketplace, read by the engine with the job (None:
    # not read, or no row). Clients take their credentials from it instead of a query of their own.
    connection: MarketplaceConnection | None = None
    # Set by the engine: writes the job's heartbeat (rate-limited); False when the job is no
    # longer running here (recovered, or stopped), so a long step may give up early.
    beat: Callable[[], bool] | None = None
    _clients: dict[Callable[..., Any], Any] = field(default_factory=dict)
    # What the engine already holds for a factory (e.g. the tenant's Mappings, unchanged since
    # the last job): `client(factory)` calls the substitute instead.
    _substitutes: dict[Callable[..., Any], Callable[[], Any]] = field(default_factory=dict)

    def heartbeat(self) -> bool:
        """Call between the calls or pages of a long step."""
        return self.beat() if self.beat is not None else True

    def record_listing(
        self,
        *,
        status: ListingStatus,
        external_id: str | None = None,
        url: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        self.listing_change = ListingChange(
            status=status, external_id=external_id, url=url, data=data or {}
        )

    def client(self, factory: Callable[..., T], **kwargs: Any) -> T:
        """One marketplace client (or other per-job helper) per job: credentials are read once,
        not once per call. `kwargs` go to the factory on the first call only."""
        if factory not in self._clients:
            substitute = self._substitutes.get(factory)
            self._clients[factory] = substitute() if substitute else factory(**kwargs)
        return cast(T, self._clients[factory])

    def substitute(self, factory: Callable[..., Any], by: Callable[[], Any]) -> None:
        """The engine's: `client(factory)` will return `by()` (what the engine holds already)."""
        self._substitutes[factory] = by

    def usable_connection(self, marketplace: str) -> MarketplaceConnection:
        """The shop's usable connection to `marketplace`: the row read with the job when there
        is one, else read now. MarketplaceAuthError when missing or disconnected."""
        from marketplace.services.connections import (  # noqa: PLC0415 - avoids a cycle
            connection_check_usable,
            connection_get_usable,
        )

        row = self.connection
        if row is not None and row.marketplace == marketplace:
            return connection_check_usable(row, marketplace=marketplace)
        return connection_get_usable(marketplace=marketplace)

    def require_product(self) -> Product:
        from core.errors import PermanentMarketplaceError  # noqa: PLC0415 - avoids a cycle

        if self.product is None:
            raise PermanentMarketplaceError(
                "The product of this job no longer exists.", details={"job_id": self.job.pk}
            )
        return self.product


class Handler(Protocol):
    marketplace: ClassVar[str]
    action: ClassVar[str]

    def plan(self, ctx: JobContext) -> list[StepPlan]:
        """The ordered steps of this job, decided once, before the first step runs."""

    def run_step(self, ctx: JobContext, step: StepInput) -> dict[str, Any]:
        """Perform one step; return its result (JSON). Raise the engine's errors on failure."""

    def finish(self, ctx: JobContext, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """Persist the outcome (listing, orders) in the completion transaction; return the
        job's result_data."""

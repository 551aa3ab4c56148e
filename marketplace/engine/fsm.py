"""What the state machine declares (django-fsm-2, marketplace.models.jobs), read for the SQL
paths so that a prewritten statement can never allow a move the model refuses."""

from marketplace.models import MarketplaceJob


def transition_sources(name: str) -> list[str]:
    """The statuses a declared transition may start from."""
    return [str(source) for source in getattr(MarketplaceJob, name)._django_fsm.transitions]


def transition_target(name: str) -> str:
    meta = getattr(MarketplaceJob, name)._django_fsm
    return str(next(iter(meta.transitions.values())).target)

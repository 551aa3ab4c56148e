"""The API against its own OpenAPI schema, at volume: `python -m bench.schema [--examples 70]`.

Schemathesis generates requests from the schema the shops' hosts serve (valid and invalid
bodies, query strings, path ids) for every operation and sends them to the Django app in
process, as a member of a seeded shop with a fresh token per request (logout and token revoke
are among the operations). Every response goes through schemathesis' checks. Prints, per
operation and in total, the cases sent, the server errors (5xx) and the schema violations
(status, content type, headers or body the schema does not document). Target: 0 and 0.

Its own database (RELIST_BENCH_SCHEMA_DB) and Redis (RELIST_BENCH_REDIS_BASE).
"""

import argparse
import os
import sys
import time
from collections import Counter
from typing import Any

from bench.database import migrate_shared, recreate_database
from bench.env import BENCH_DB, REDIS_BASE, BenchEnv

_REDIS_BASE = os.environ.get("RELIST_BENCH_REDIS_BASE", REDIS_BASE)
SCHEMA, DOMAIN = "benchschema", "benchschema.localhost"
RELAXED = {
    "RELIST_THROTTLE_USER": "10000000/min",
    "RELIST_THROTTLE_IP": "10000000/min",
    "RELIST_THROTTLE_LOGIN": "10000000/min",
    "RELIST_THROTTLE_AUTH_FAILURE": "10000000/min",
    "RELIST_LOGIN_FAILURE_LIMIT": "1000000",
}


class _SchemaBenchEnv(BenchEnv):
    @property
    def broker_url(self) -> str:
        return f"{_REDIS_BASE}/{self.broker_db}"

    @property
    def redis_url(self) -> str:
        return f"{_REDIS_BASE}/{self.redis_db}"


ENV = _SchemaBenchEnv(
    database=os.environ.get("RELIST_BENCH_SCHEMA_DB", f"{BENCH_DB}_schema"),
    broker_db=11,
    redis_db=12,
)
SERVER_ERROR = "not_a_server_error"
# Schema-valid requests a business rule refuses (an action a marketplace does not offer, an
# OAuth state never issued, an id that does not exist): counted apart, not as violations.
BUSINESS_RULE = "Schema-valid request rejected"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.schema", description=__doc__)
    parser.add_argument("--examples", type=int, default=100, help="at most, per operation")
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args(argv)


def _setup() -> tuple[Any, Any]:
    """Database, shop, member; a few rows for generated ids to hit. Returns the member and the
    schema as the shop's host serves it."""
    import django  # noqa: PLC0415 - configured by ENV.apply()

    recreate_database(ENV.database)
    migrate_shared(ENV.for_subprocess(RELAXED))
    django.setup()
    from django.conf import settings  # noqa: PLC0415
    from django.test import Client  # noqa: PLC0415

    # Speed only, as in the test settings: every login case would otherwise pay a full PBKDF2.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

    from tenants.context import tenant_context  # noqa: PLC0415
    from tenants.services import tenant_provision  # noqa: PLC0415
    from tests.factories.marketplace import ProductFactory, make_batch, make_job_in  # noqa: PLC0415
    from tests.factories.tenants import MembershipFactory, UserFactory  # noqa: PLC0415

    tenant = tenant_provision(schema_name=SCHEMA, name="Schema bench", domain=DOMAIN)
    member = UserFactory(username="schema-bench")
    MembershipFactory(user=member, tenant=tenant, role="owner")
    with tenant_context(SCHEMA):
        ProductFactory()
        make_job_in("failed")
        make_batch(products=2)
    response = Client(HTTP_HOST=DOMAIN).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200, response.content
    return member, response.json()


def _classify(error: BaseException) -> list[str]:
    """The names of the checks a failed case broke."""
    failures = getattr(error, "exceptions", None) or [error]
    names = []
    for failure in failures:
        title = getattr(failure, "title", "") or type(failure).__name__
        names.append(SERVER_ERROR if "Server error" in title else title)
    return names


def run(*, member: Any, openapi: dict, examples: int, seed: int) -> tuple[Counter, Counter]:
    import schemathesis  # noqa: PLC0415
    from django.core.wsgi import get_wsgi_application  # noqa: PLC0415

    schema = schemathesis.openapi.from_dict(openapi)
    schema.app = get_wsgi_application()
    cases: Counter = Counter()
    broken: Counter = Counter()
    samples: dict[tuple[str, str], str] = {}
    for result in schema.get_all_operations():
        _exercise(result.ok(), member, examples, cases, broken, samples)  # type: ignore[union-attr]
    for (label, name), text in sorted(samples.items()):
        print(f"\n--- {label}: {name} ({broken[(label, name)]}x), first seen:\n{text}")
    return cases, broken


def _exercise(
    operation: Any, member: Any, examples: int, cases: Counter, broken: Counter, samples: dict
) -> None:
    from hypothesis import HealthCheck, given, settings  # noqa: PLC0415
    from schemathesis.core.failures import FailureGroup  # noqa: PLC0415

    from tenants.auth import api_token_issue  # noqa: PLC0415

    # Logout and token revocation end the token they are sent with (or another): those cases get
    # a token of their own; the others share one.
    revoking = operation.label in ("POST /api/auth/logout/", "DELETE /api/auth/tokens/{id}/")
    shared = api_token_issue(user=member, name="schema bench")[1]

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=operation.as_strategy())
    def exercise(case: Any) -> None:
        raw = api_token_issue(user=member, name="schema bench")[1] if revoking else shared
        cases[operation.label] += 1
        try:
            case.call_and_validate(
                base_url=f"http://{DOMAIN}", headers={"Authorization": f"Bearer {raw}"}
            )
        except (Exception, FailureGroup) as error:  # counted, shown once per kind
            for name in _classify(error):
                broken[(operation.label, name)] += 1
                samples.setdefault((operation.label, name), str(error)[:1500])

    exercise()


def main(argv: list[str] | None = None) -> int:
    opts = _parse(argv)
    os.environ.update(RELAXED)
    ENV.apply()
    started = time.perf_counter()
    member, openapi = _setup()
    cases, broken = run(member=member, openapi=openapi, examples=opts.examples, seed=opts.seed)

    def count(label: str | None, kind: str) -> int:
        return sum(
            n
            for (op, name), n in broken.items()
            if (label is None or op == label)
            and (name == kind if kind != "other" else name not in (SERVER_ERROR, BUSINESS_RULE))
        )

    print(f"\n{'operation':<48}{'cases':>7}{'5xx':>6}{'violations':>12}{'refused valid':>15}")
    for label, sent in sorted(cases.items()):
        print(
            f"{label:<48}{sent:>7}{count(label, SERVER_ERROR):>6}{count(label, 'other'):>12}"
            f"{count(label, BUSINESS_RULE):>15}"
        )
    server_errors, violations = count(None, SERVER_ERROR), count(None, "other")
    print(
        f"{'total':<48}{sum(cases.values()):>7}{server_errors:>6}{violations:>12}"
        f"{count(None, BUSINESS_RULE):>15}"
    )
    print(
        f"({time.perf_counter() - started:.0f} s; 'refused valid': schema-valid requests a "
        "business rule refuses, not violations)"
    )
    return 1 if server_errors or violations else 0


if __name__ == "__main__":
    sys.exit(main())

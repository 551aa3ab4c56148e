"""The job engine: everything between "a job exists" and "the job is terminal".

Modules, lowest first (an import-linter contract keeps this order, so no cycle can come back):
`policy` (retry rules) and `sql` (the hot-path statements) → `duework` (the public index of
tenants with due work) → `transitions` (the ORM path of a state change) → `dispatch` (Celery
triggers) → `steps` and `lifecycle` (claim, outcomes, requests) → `runner` (one job) →
`sweep` (beat). docs/engine.md describes the design."""

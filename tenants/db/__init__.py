"""Database plumbing for tenancy: a PostgreSQL backend whose search_path is transaction-scoped."""

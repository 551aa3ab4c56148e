"""`DATABASES[...]["ENGINE"] = "tenants.db.backend"`: see base.py."""

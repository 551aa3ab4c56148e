"""From the canonical product to each marketplace's listing: what the product means on a
marketplace (its mappings, `mappings.py`), what is missing for it (`Reason`), and the text,
price and image rules the marketplaces share (`text.py`). Each marketplace's own rendering is
its handler's `payloads.py`; readiness (marketplace.services.readiness) asks the same modules
what is missing, so what it reports is exactly what the payload would lack."""

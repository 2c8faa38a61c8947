"""The JSON API under /api/v1 (INTERFACES section 6)."""

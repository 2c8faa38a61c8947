"""Deals from the CRM for managers (import, stage names) and "used in deal" for reps."""

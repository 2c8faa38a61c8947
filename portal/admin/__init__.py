"""Admins manage people; managers edit the taxonomy."""

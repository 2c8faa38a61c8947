"""Content requests: reps ask marketing for what is missing; marketing answers."""

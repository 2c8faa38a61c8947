"""The rep's front door: the buyer's journey, and each stage's playbook."""

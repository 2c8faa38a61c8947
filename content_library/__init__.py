"""The sales-enablement domain: taxonomy, content items, users and the rules between them.

Nothing here imports Flask: the web layer calls in, never the other way round.
"""

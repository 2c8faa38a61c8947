"""Search backends behind one interface, chosen by name from configuration.

``create_backend("whoosh", index_dir=...)`` gives the embedded default;
``create_backend("postgres", dsn=...)`` keeps the index inside PostgreSQL for
several web hosts. Others register with :func:`register_backend`; a factory is
imported only when it is asked for, so an unused backend's dependencies are
never loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from .base import FACETS, Hit, IndexBusy, SearchBackend, SearchQuery, SearchResult

__all__ = [
    "FACETS",
    "Hit",
    "IndexBusy",
    "SearchBackend",
    "SearchQuery",
    "SearchResult",
    "available_backends",
    "create_backend",
    "register_backend",
]

# name -> factory, or "module:attribute" naming one, imported on first use
_REGISTRY: dict[str, Callable[..., SearchBackend] | str] = {
    "whoosh": "search_index.whoosh_backend:WhooshBackend",
    "postgres": "search_index.postgres_backend:PostgresBackend",
}


def register_backend(name: str, factory: Callable[..., SearchBackend] | str) -> None:
    """Make a backend available to :func:`create_backend` under ``name``."""
    _REGISTRY[name] = factory


def available_backends() -> list[str]:
    return sorted(_REGISTRY)


def create_backend(name: str, **options) -> SearchBackend:
    """The backend registered as ``name``, built with ``options``.

    Raises ValueError for an unknown name.
    """
    try:
        factory = _REGISTRY[name]
    except KeyError:
        known = ", ".join(available_backends())
        raise ValueError(f"unknown search backend {name!r} (known: {known})") from None
    if isinstance(factory, str):
        module_name, _, attribute = factory.partition(":")
        factory = getattr(import_module(module_name), attribute)
    return factory(**options)

"""The demo library: a fictional vendor's content and a person for every role."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from sqlalchemy.orm import Session

from ..errors import Invalid
from .exchange import ImportReport, import_library
from .search_words import parse_terms, save_synonyms, synonym_table
from .users import NewUser, create_user, find_by_email

# Demo log-ins, printed by `make run`. Only for trying the portal on one machine.
DEMO_USERS = (
    NewUser("admin@demo.example", "Alex Admin", "admin", "Admin-demo-2026"),
    NewUser("maria.marketing@demo.example", "Maria Marketing", "manager", "Manager-demo-2026"),
    NewUser("ryan.rep@demo.example", "Ryan Rep", "rep", "Rep-demo-2026"),
    NewUser("chris.champion@contoso-health.example", "Chris Champion", "champion",
            "Champion-demo-2026", company="Contoso Health"),
)


# Words reps type for the same thing; managers edit these under Taxonomy → Synonyms.
DEMO_SYNONYMS = (
    "ROI = return on investment",
    "TCO = total cost of ownership",
    "battlecard = battle card",
    "RFP = request for proposal",
    "CFO = finance director = economic buyer",
)


def demo_library_path() -> Path:
    return Path(str(resources.files("content_library").joinpath("demo/library.yaml")))


def load_demo(session: Session, upload_dir: Path) -> tuple[int, ImportReport]:
    """Create the demo users that are missing, then import the demo library (idempotent)."""
    created = 0
    for data in DEMO_USERS:
        if find_by_email(session, data.email) is None:
            try:
                create_user(session, data)
            except Invalid as exc:  # the demo passwords must pass our own rules
                raise RuntimeError(f"demo user {data.email}: {exc}") from exc
            created += 1
    report = import_library(session, demo_library_path(), upload_dir)
    known = {frozenset(terms) for terms in synonym_table(session)}
    for line in DEMO_SYNONYMS:
        if frozenset(parse_terms(line)) not in known:
            save_synonyms(session, line)
    return created, report

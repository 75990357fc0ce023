"""The composition root: the domains every shell collects (`DOMAINS`: tables, job handlers,
routes, commands) and the services they share (`build_services`)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import MetaData

from clearinghouse.audit import keys as audit_keys
from clearinghouse.core.config import Settings, get_settings
from clearinghouse.core.crypto import Keyring
from clearinghouse.storage.base import Base
from clearinghouse.storage.blobs import BlobStore, DatabaseBlobStore
from clearinghouse.storage.db import Database
from clearinghouse.storage.services import Services
from clearinghouse.storage.vault import Vault

__all__ = [
    "DOMAINS",
    "Domain",
    "InstanceServices",
    "Services",
    "build_services",
    "load",
    "load_job_handlers",
    "metadata",
]


@dataclass(frozen=True)
class Domain:
    """Where one domain's parts are, for the shells to collect: module paths, which the
    composition root and the shells import (a domain never names a shell). Every part is
    optional; a new domain adds one entry to `DOMAINS` and nothing else."""

    name: str
    models: tuple[str, ...] = ()  # modules that define its tables
    jobs: str | None = None  # its tasks module: importing it registers its `@job_handler`s
    routes: tuple[str, ...] = ()  # its FastAPI routers, "module:attribute", in order
    first_routes: tuple[str, ...] = ()  # routers matched before all others: the hottest
    commands: tuple[str, ...] = ()  # CLI modules whose `register(app)` adds their commands
    pages: tuple[str, ...] = ()  # its web pages' routers (web.routing.page_router), in order


# In this order: tables are imported, handlers loaded, routers included (each domain's
# `first_routes` before any other) and commands listed by `clearinghouse --help`.
DOMAINS: tuple[Domain, ...] = (
    Domain(
        "storage",
        models=(
            "clearinghouse.storage.blobs",
            "clearinghouse.storage.jobs",
            "clearinghouse.storage.vault",
        ),
    ),
    Domain(
        "operations",
        routes=("clearinghouse.api.routes.ops:router",),
        commands=("clearinghouse.cli.ops",),
    ),
    # the web interface's own pages: front page, dashboard, static files (docs/web.md)
    Domain("web", pages=("clearinghouse.web.home:router",)),
    Domain(
        "accounts",
        models=("clearinghouse.accounts.models",),
        jobs="clearinghouse.accounts.tasks",
        routes=("clearinghouse.api.routes.accounts:router",),
        commands=("clearinghouse.cli.accounts",),
        pages=("clearinghouse.web.auth:router",),
    ),
    Domain("audit", models=("clearinghouse.audit.models",), jobs="clearinghouse.audit.tasks"),
    Domain(
        "reviews",
        models=("clearinghouse.reviews.models",),
        jobs="clearinghouse.reviews.tasks",
        routes=("clearinghouse.api.routes.reviews:router",),
        commands=("clearinghouse.cli.reviews",),
        pages=("clearinghouse.web.lab:router",),
    ),
    Domain(
        "evals",
        models=("clearinghouse.evals.models",),
        jobs="clearinghouse.evals.tasks",
        routes=(
            "clearinghouse.api.routes.evals:router",
            "clearinghouse.api.routes.evals:reference_router",
        ),
        commands=("clearinghouse.cli.evals",),
        pages=("clearinghouse.web.evaluator:router",),
    ),
    # Before vulns: the CLI lists vulns' group last (tests/test_architecture.py).
    Domain(
        "notifications",
        models=("clearinghouse.notifications.models",),
        jobs="clearinghouse.notifications.tasks",
        routes=("clearinghouse.api.routes.webhooks:router",),
        commands=("clearinghouse.cli.notifications",),
    ),
    Domain(  # the CNA part of coordination (issue 14, part 6); folded into it when merged;
        # before vulns, whose group closes the CLI (tests/test_architecture.py)
        "cve_ids",
        models=("clearinghouse.coordination.cna.models",),
        routes=("clearinghouse.api.routes.cve_ids:router",),
        commands=("clearinghouse.cli.cve_ids",),
    ),
    # listed before vulns so that `clearinghouse --help` keeps vulns last (test_architecture)
    Domain(
        "coordination",
        models=("clearinghouse.coordination.models",),
        jobs="clearinghouse.coordination.tasks",
        routes=(
            "clearinghouse.api.routes.cases:router",
            "clearinghouse.api.routes.case_fixes:router",
        ),
        commands=("clearinghouse.cli.cases", "clearinghouse.cli.case_fixes"),
        pages=("clearinghouse.web.cases:router", "clearinghouse.web.vendor:router"),
    ),
    Domain(  # operator inventories (issue 15); before vulns (tests/test_architecture.py)
        "inventory",
        models=("clearinghouse.inventory.models", "clearinghouse.inventory.epss_models"),
        jobs="clearinghouse.inventory.tasks",
        routes=(
            "clearinghouse.api.routes.assets:router",
            "clearinghouse.api.routes.exposures:router",
        ),
        commands=("clearinghouse.cli.inventory", "clearinghouse.cli.exposures"),
        pages=("clearinghouse.web.operator:router",),
    ),
    Domain(
        "vulns",
        models=("clearinghouse.vulns.models", "clearinghouse.vulns.quality.models"),
        jobs="clearinghouse.vulns.tasks",
        routes=(
            "clearinghouse.api.routes.vulns:router",
            "clearinghouse.api.routes.import_findings:router",
            "clearinghouse.api.routes.taxii:router",
            "clearinghouse.api.routes.csaf:router",
        ),
        first_routes=("clearinghouse.api.routes.osv:router",),  # the public OSV queries
        pages=("clearinghouse.web.advisories:router", "clearinghouse.web.triage:router"),
        commands=(
            "clearinghouse.cli.csaf",
            "clearinghouse.cli.vulns",
            "clearinghouse.cli.validation",
        ),
    ),
)


def load(ref: str) -> Any:
    """The object a "module:attribute" reference names (a module path alone: the module)."""
    module, _, attribute = ref.partition(":")
    loaded = importlib.import_module(module)
    return getattr(loaded, attribute) if attribute else loaded


def metadata() -> MetaData:
    """The complete schema (for tests and for `alembic revision --autogenerate`)."""
    for domain in DOMAINS:
        for module in domain.models:
            importlib.import_module(module)
    return Base.metadata


def load_job_handlers(extra: list[str]) -> None:
    """Register every domain's job handlers, and those of the `extra` modules (settings)."""
    for module in (*(d.jobs for d in DOMAINS if d.jobs), *extra):
        importlib.import_module(module)


@dataclass(frozen=True)
class InstanceServices:
    """The services of this instance, as `build_services` makes them (a `Services`)."""

    settings: Settings
    db: Database
    vault: Vault
    blobs: BlobStore


def build_services(settings: Settings | None = None) -> Services:
    settings = settings or get_settings()
    settings.check_production()
    keyring = Keyring(settings.master_key_bytes, tuple(settings.retired_master_key_bytes))
    vault = Vault(keyring)
    load_job_handlers(settings.job_modules)
    db = Database(settings.effective_database_url)
    # record() needs the vault; the data directory holds the audit anchor (docs/audit.md)
    audit_keys.bind(db.sessions, vault, settings.audit_checkpoint_origin, settings.var_dir)
    return InstanceServices(settings=settings, db=db, vault=vault, blobs=DatabaseBlobStore(vault))

"""Schema migrations (Alembic), driven programmatically so no alembic.ini is needed on disk."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from clearinghouse.storage.db import Database


def alembic_config(url: str) -> Config:
    ini = resources.files("clearinghouse.storage") / "alembic.ini"
    config = Config(str(ini))
    config.set_main_option(
        "script_location", str(resources.files("clearinghouse.storage") / "migrations")
    )
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    config = alembic_config(db.url)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current(db: Database) -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head(db: Database) -> str | None:
    return ScriptDirectory.from_config(alembic_config(db.url)).get_current_head()

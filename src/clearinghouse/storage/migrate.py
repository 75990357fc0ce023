"""Schema migrations (Alembic), driven programmatically so no alembic.ini is needed on disk."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from clearinghouse.core.errors import ConfigurationError
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
    """Migrate to `revision` in one transaction.

    On SQLite, batch migrations rebuild a table (copy, drop, rename), and with foreign keys on,
    dropping a table that other rows reference fails. SQLite's documented procedure: turn
    foreign keys off outside the transaction, migrate, check every foreign key before
    committing, and turn them back on."""
    config = alembic_config(db.url)
    with db.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        raw = connection.connection.driver_connection
        if sqlite:
            raw.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise ConfigurationError(
                            f"the migration left {len(broken)} broken foreign keys "
                            f"(first: {tuple(broken[0])}); nothing was changed",
                            code="migration_broke_foreign_keys",
                        )
        finally:
            if sqlite:
                raw.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


def current(db: Database) -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head(db: Database) -> str | None:
    return ScriptDirectory.from_config(alembic_config(db.url)).get_current_head()

"""Alembic environment. The URL comes from the caller (`clearinghouse db upgrade`)."""

from __future__ import annotations

from alembic import context

from clearinghouse.storage.db import make_engine

# Upgrades and downgrades run the revisions' explicit operations and need no models. A caller
# that autogenerates a revision passes the complete schema (clearinghouse.container.metadata())
# as the config attribute "target_metadata": storage imports no domain.
target_metadata = context.config.attributes.get("target_metadata")
url = context.config.get_main_option("sqlalchemy.url")
assert url, "sqlalchemy.url must be set by the caller"

if context.is_offline_mode():
    context.configure(
        url=url, target_metadata=target_metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    connectable = context.config.attributes.get("connection")
    if connectable is None:
        engine = make_engine(url)
        with engine.connect() as connection:
            context.configure(
                connection=connection, target_metadata=target_metadata, render_as_batch=True
            )
            with context.begin_transaction():
                context.run_migrations()
        engine.dispose()
    else:
        context.configure(
            connection=connectable, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()

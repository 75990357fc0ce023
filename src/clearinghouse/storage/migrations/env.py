"""Alembic environment. The URL comes from the caller (`clearinghouse db upgrade`)."""

from __future__ import annotations

from alembic import context

import clearinghouse.storage.metadata as metadata_module
from clearinghouse.storage.db import make_engine

target_metadata = metadata_module.metadata()
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

"""Alembic environment: always run from `workflow.schema.upgrade` on a given connection."""
from alembic import context

import workflow.models  # noqa: F401  (registers every table on the metadata)
from sqlmodel import SQLModel

config = context.config
connection = config.attributes["connection"]
context.configure(connection=connection, target_metadata=SQLModel.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()

"""Alembic environment, for `casework init` and for Alembic's own command line.

`casework init` (workflow.storage.schema.upgrade) hands over its open connection. Run
from the repository root (`alembic upgrade head`, with the root's alembic.ini)
there is none: the database is the one the command line would use, `-x db=URL`
or else $CASEWORK_DB or sqlite:///casework.db, opened the way casework opens it
(SQLite's pragmas, psycopg 3 for postgresql:// URLs).
"""

from alembic import context

from workflow.storage.tables import metadata  # every table, the outbox's too


def _migrate(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


_given = context.config.attributes.get("connection")
if _given is not None:
    _migrate(_given)
else:
    from logging.config import fileConfig

    from workflow.storage.db import make_engine

    if context.config.config_file_name is not None:
        fileConfig(context.config.config_file_name)  # "Running upgrade 0009 -> 0010 …"
    _engine = make_engine(context.get_x_argument(as_dictionary=True).get("db"))
    try:
        with _engine.begin() as _conn:
            _migrate(_conn)
    finally:
        _engine.dispose()

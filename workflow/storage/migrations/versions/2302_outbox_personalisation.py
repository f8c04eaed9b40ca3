"""The outbox keeps what a kind's own GOV.UK Notify template is filled in with.

`personalisation` is a JSON object, `{"case_ref": …, "due_date": …}`: the
values the kind's text templates print, computed from the render context when
the row is queued (notifications.notify_templates.personalisation_for). Rows
queued before this have NULL and are sent with the generic template's
((subject)) and ((body)).

Revision ID: 2302
Revises: 2003
"""

import sqlalchemy as sa
from alembic import op

revision = "2302"
down_revision = "2003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.add_column(sa.Column("personalisation", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.drop_column("personalisation")

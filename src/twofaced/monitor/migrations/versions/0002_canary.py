"""Canary pairs and flagged exchanges: ``exchanges`` gains ``canary``, ``pair_id``, ``condition`` and
``flagged``; ``incidents.direction`` widens to 20 characters (the canary signal's directions are
``training_only`` and ``deployment_only``).

Existing rows are live exchanges, none flagged (the dashboard lists only what is scored from now on).

Revision ID: 0002_canary
Revises: 0001_initial
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_canary"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("exchanges", sa.Column("canary", sa.Boolean, nullable=False, server_default=sa.false()))
    op.add_column("exchanges", sa.Column("pair_id", sa.String(32), nullable=True))
    op.add_column("exchanges", sa.Column("condition", sa.String(16), nullable=True))
    op.add_column("exchanges", sa.Column("flagged", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_index("ix_exchanges_flagged_created", "exchanges", ["flagged", "created_at"])
    op.create_index("ix_exchanges_pair_id", "exchanges", ["pair_id"])
    if op.get_bind().dialect.name != "sqlite":  # SQLite does not enforce a VARCHAR length
        op.alter_column("incidents", "direction", type_=sa.String(20), existing_type=sa.String(10),
                        existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("incidents", "direction", type_=sa.String(10), existing_type=sa.String(20),
                        existing_nullable=False)
    op.drop_index("ix_exchanges_pair_id", "exchanges")
    op.drop_index("ix_exchanges_flagged_created", "exchanges")
    for column in ("flagged", "condition", "pair_id", "canary"):
        op.drop_column("exchanges", column)

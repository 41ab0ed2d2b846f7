"""A served probe's reading per exchange: ``exchanges`` gains ``probe_score`` and ``probe_flagged`` (both NULL
when the reply carried no ``"twofaced": {"probe": ...}``, as every existing row did).

Revision ID: 0003_probe
Revises: 0002_canary
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_probe"
down_revision = "0002_canary"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("exchanges", sa.Column("probe_score", sa.Float, nullable=True))
    op.add_column("exchanges", sa.Column("probe_flagged", sa.Boolean, nullable=True))


def downgrade() -> None:
    for column in ("probe_flagged", "probe_score"):
        op.drop_column("exchanges", column)

"""Several replicas, one walk: ``detector_state`` gains ``version`` (bumped by every write of a state, so a replica
knows when another one moved a signal), ``incidents`` gains ``detector_reset`` (set by the one replica that resets
the detector after an acknowledgement), and ``monitor_locks`` holds two rows: ``walk`` (every update of the
signals takes its row lock first, so replicas update them one at a time) and ``canary`` (a lease: the replica
holding it sends the canary pairs).

Existing states start at version 0; an incident already acknowledged counts as reset (the monitor that saw its
acknowledgement reset its detector), an open one does not.

Revision ID: 0004_replicas
Revises: 0003_probe
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_replicas"
down_revision = "0003_probe"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("detector_state", sa.Column("version", sa.Integer, nullable=False, server_default="0"))
    op.add_column("incidents", sa.Column("detector_reset", sa.Boolean, nullable=False, server_default=sa.false()))
    # an incident acknowledged before this revision had its detector reset by the monitor that saw the ack
    op.execute(sa.text("UPDATE incidents SET detector_reset = :yes WHERE status = :acked")
               .bindparams(yes=True, acked="acked"))
    locks = op.create_table(
        "monitor_locks",
        sa.Column("name", sa.String(20), primary_key=True), sa.Column("holder", sa.String(64), nullable=True),
        sa.Column("expires_at", sa.Float, nullable=False, server_default="0"),
    )
    op.bulk_insert(locks, [{"name": "walk", "holder": None, "expires_at": 0.0},
                           {"name": "canary", "holder": None, "expires_at": 0.0}])


def downgrade() -> None:
    op.drop_table("monitor_locks")
    op.drop_column("incidents", "detector_reset")
    op.drop_column("detector_state", "version")

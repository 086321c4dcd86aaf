"""index on listings (producer_id, created_at, id) for a producer's listings, newest first

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 22:20:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_listings_producer_created", "listings", ["producer_id", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_listings_producer_created", table_name="listings")

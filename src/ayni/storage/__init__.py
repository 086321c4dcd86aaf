"""Storage: engine and sessions, tables, repositories, Alembic migrations."""

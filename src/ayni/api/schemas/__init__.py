"""Request and response shapes, separate from the tables."""

"""The web pages, one module per kind of user (plus the account pages everyone shares)."""

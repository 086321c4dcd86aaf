"""Use cases. The only callers of storage from the API, the web pages and the CLI."""

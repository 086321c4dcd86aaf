"""MLOps: data validation, registry, drift, feedback, promotion."""

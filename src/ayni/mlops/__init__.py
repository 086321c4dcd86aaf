"""MLOps: data validation, tracking and registry, promotion gate, drift, feedback and retraining.

``registry`` is the only module that imports MLflow, and only when a ``ModelRegistry`` is created.
Nothing here imports storage, the API, the web app or services: the same code runs in a DVC stage,
a test and a request.
"""

"""The web app: server-rendered pages for producers, partners, administrators and analysts.

``mount(app)`` adds it to the FastAPI application built by ``ayni.api.create_app``.
"""

from ayni.web._app import mount

__all__ = ["mount"]

"""The web app: server-rendered pages over the same services as the command line.

`create_app(engine, scheduler_every=...)` is what `casework serve` runs.
"""
from workflow.web.asgi import create_app

__all__ = ["create_app"]

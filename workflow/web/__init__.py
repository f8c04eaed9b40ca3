"""The web app: server-rendered pages over the same services as the command line.

`create_app(engine, scheduler_every=...)` is what `casework serve` runs. It is
imported on first use, so that importing one module of the package (the
request-body limit the API shares) does not build the whole app.
"""

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from workflow.web.asgi import create_app

        return create_app
    raise AttributeError(name)

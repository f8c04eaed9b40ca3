"""The JSON API (`/api/v1`): the same services as the command line, over HTTP.

`create_api(engine)` builds the ASGI app the web app mounts at /api/v1.
"""

from workflow.api.app import MOUNT, create_api, openapi_document

__all__ = ["create_api", "openapi_document", "MOUNT"]

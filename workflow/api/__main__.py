"""`python -m workflow.api`: print the OpenAPI document (docs/openapi.json is a kept copy).

.venv/bin/python -m workflow.api > docs/openapi.json
"""

import json
import sys

from sqlalchemy import create_engine

from workflow.api import create_api

document = create_api(create_engine("sqlite://")).openapi()
sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")

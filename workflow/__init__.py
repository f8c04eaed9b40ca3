"""The engine and its faces.

- `storage/`: opening the database, the tables, the migrations, the hot path's prepared statements.
- `services/`: what can be done to a case, one transaction each (the engine, the chain, assessment, awards, monitoring, ...).
- `runtime/`: what runs on its own: the sweep, the scheduler, mail delivery, status and metrics.
- `cli/`, `web/`, `api/`: the three faces; each parses, calls a service and renders.

`errors` (what can go wrong, in a caseworker's words) and `clock` (the one clock) are used by all of them.
"""

# Migration scripts run only under Alembic; keep them out of doctest collection.
collect_ignore_glob = ["*/migrations/*"]

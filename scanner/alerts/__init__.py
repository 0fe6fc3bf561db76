"""Chat alerts: one module per platform (format, limits, retry hints), a sender that drains a
queue without ever delaying a scan, and the service that turns a scan into messages.

What to alert is decided by ``strategies.alert_policy`` (pure); the outbox lives in
``storage.alert_store``. URLs and tokens come from the environment and are never logged.
"""

"""How a request becomes an export.

The API side (``service``: submit, status, history) and the worker side (``worker``: claim, run,
heartbeat, notify) of one export; the request's limits and validation (``requests``); which requests
are the same export (``identity``); the typed record, its states and transitions (``lifecycle``)
and where they are kept (``ledger``); the status URLs (``urls``); the Slack ``/export`` command
(``slack_commands``, ``slack_forms``) and the Block Kit messages (``messages``).
"""

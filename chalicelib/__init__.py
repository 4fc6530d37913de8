"""What the Lambda functions run, and nothing else: app.py reaches every module here (a test holds it).

Three rooms, in the order the data flows:

- ``exports``: how a request becomes an export (the API and worker sides, the record and its
  states, which requests are the same export, Slack commands and messages);
- ``templating``: what a report is (template, parameters, options, SQL check, sources);
- ``files``: how rows become a file (cell conversion, formats, the writers, guards, the pipeline).

Flat beside them: the cross-cutting modules (``settings``, ``runtime``: the one place that wires
everything, ``errors``, ``observability``, ``metrics``, ``retry``) and the I/O edge (``aws``,
``database``, ``storage``, ``records``, ``secrets``, ``links``, ``slack``, ``slack_web``). The import
contracts in pyproject.toml keep the rooms layered and the pure modules away from the edge. The
tools people run (CLI, template checks, schedules, canaries) are in tools/, outside the package.
"""

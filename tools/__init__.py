"""The tools people run, never in the Lambda package.

The command line (``tools.cli``: ``excel-export``, ``python -m tools.cli``), the template checks
(``template_check``), the schedules and their cron expressions (``schedules``, ``cron``) and the
canary rendering (``canaries``). ``chalice package`` zips only app.py and chalicelib/.
"""

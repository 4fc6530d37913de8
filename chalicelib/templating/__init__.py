"""What a report is.

A SQL template with its declared parameters (``template``, ``parameters``), the report's options
(``options``), the check that a rendered query is one read-only SELECT (``sqlcheck``), where the
templates are read from (``sources``), and how parameter values and times are shown to people
(``presentation``).
"""

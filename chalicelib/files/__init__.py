"""How rows become a file.

Cell conversion (``cells``), the output formats (``formats``), the two .xlsx writers (``workbook``:
XlsxWriter, the reference; ``fastbook``: the fast native writer), CSV (``csvfile``), the /tmp and
time guards (``guards``) and the pipeline from a template to a stored file (``pipeline``).
"""

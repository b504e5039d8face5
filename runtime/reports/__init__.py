"""Reports on the statistics database: ``qscript report KIND`` (docs/reports.md).

selection.py (period and filters) → figures.py (the call figures per 15
minutes and group) and kinds.py (one function per report) → model.py (tables,
notes, a chart) → render.py (terminal, CSV, JSON), excel.py (xlsx), charts.py
(PNG); queue_log.py exports the event log for Asterisk tools; cli.py is the
command.
"""

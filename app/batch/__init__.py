"""The nightly reconcile batch job (orders against charges) and its schedule loop.

`python -m app.batch.reconcile` runs it once and exports its metrics to the
Pushgateway and/or a node_exporter textfile; `python -m app.batch.schedule`
runs it every few minutes until told to stop.
"""

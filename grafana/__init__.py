"""The shop's Grafana dashboards as code: `python -m grafana.generate` writes grafana/dashboards/*.json.

The JSON files are what Grafana loads (file provisioning, see grafana/provisioning/);
this package is where they are written, so five dashboards share one style,
one datasource, the same annotations and links. `grafana.checks` holds the
rules every dashboard must pass (used by the generator and the tests).
"""

"""Prometheus configuration, rules and their tests (a package so `python -m prometheus.slo.generate` runs)."""

"""Prometheus configuration, rules and their tests (a package so `python -m prometheus.generate` runs)."""

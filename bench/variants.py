"""The shop without our metrics, and the shop with prometheus_flask_exporter instead.

The instrumentation-cost benchmark compares the same code with and without
metrics. Rather than keep a copy of the shop, the variants load the real shop
(`app.shop.create_app`) with `app.shop.metrics` replaced by a module of the
same names whose metrics do nothing. Request logs, error handling, fault
checks and the SQLite query stay exactly as they are in production; only
metric updates disappear. Import this module before anything imports
`app.shop` (the WSGI modules `bench.wsgi_none` / `bench.wsgi_exporter` do).

A config switch in the shop (`create_app({"INSTRUMENTATION": False})`) would
make this stand-in unnecessary.
"""
import importlib.util
import os
import sys
import types

from prometheus_client.metrics import MetricWrapperBase

SHOP_METRICS_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                 "app", "shop", "metrics.py")


class NullMetric:
    """A metric that accepts every call prometheus_client's metrics accept and records nothing."""

    def labels(self, *_args, **_kwargs):
        return self

    def inc(self, *_args, **_kwargs):
        pass

    dec = set = observe = inc

    def time(self):
        return self

    track_inprogress = time

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        return False

    def __call__(self, function):
        return function


def _nothing(*_args, **_kwargs):
    """Stands in for the metrics module's helper functions."""


def null_shop_metrics():
    """A module with every name of app/shop/metrics.py, its metrics replaced by NullMetric."""
    spec = importlib.util.spec_from_file_location("bench_shop_metrics_names", SHOP_METRICS_FILE)
    real = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(real)  # registers the real metrics once in this process; nothing updates them
    null = types.ModuleType("app.shop.metrics", "app.shop.metrics with every metric replaced by a no-op.")
    for name, value in vars(real).items():
        if name.startswith("__"):
            continue
        if isinstance(value, MetricWrapperBase):
            value = NullMetric()
        elif isinstance(value, types.FunctionType):
            value = _nothing
        setattr(null, name, value)
    return null


def install_null_metrics():
    """Make `import app.shop.metrics` return the no-op module (must run before app.shop is imported)."""
    if "app.shop" in sys.modules:
        raise RuntimeError("app.shop is already imported; install the null metrics module before importing it.")
    sys.modules["app.shop.metrics"] = null_shop_metrics()


def shop_without_metrics(config=None):
    """The shop with every metric a no-op: variant (b) of the instrumentation-cost benchmark."""
    install_null_metrics()
    from app.shop import create_app
    return create_app(config)


def shop_with_flask_exporter(config=None):
    """The shop with prometheus_flask_exporter's gunicorn multiprocess metrics instead of ours: variant (c).

    Grouped by URL rule (its default, the raw path, would be unbounded), with
    its default request histogram and counter.
    """
    app = shop_without_metrics(config)
    from prometheus_flask_exporter.multiprocess import GunicornPrometheusMetrics
    GunicornPrometheusMetrics(app, group_by="url_rule")
    return app

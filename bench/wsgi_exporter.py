"""WSGI entry of the shop with prometheus_flask_exporter instead of our metrics (bench variant c)."""
from bench.variants import shop_with_flask_exporter

app = shop_with_flask_exporter()

"""WSGI entry of the shop without metrics (bench variant b)."""
from bench.variants import shop_without_metrics

app = shop_without_metrics()

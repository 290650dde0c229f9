"""Ask a running Prometheus, as the tests that check what it scraped do."""
import requests


def instant_query(prometheus_url, expression):
    """An instant query; the result vector (a list, empty when nothing matches)."""
    response = requests.get(prometheus_url + "/api/v1/query", params={"query": expression}, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()["data"]["result"]

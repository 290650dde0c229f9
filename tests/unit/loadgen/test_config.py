"""Where the load generator finds the other services, its rate and its fault token."""
import pytest

from loadgen.config import DEFAULT_RATE, browser_url, rate_from_env, urls_from_env
from loadgen.journeys import parse_mix


def test_urls_come_from_the_environment_with_loopback_defaults(tmp_path):
    token_file = tmp_path / "fault_token"
    token_file.write_text("from-file\n")
    urls = urls_from_env({"SHOP_URL": "http://shop:8000/", "LOADGEN_PORT": "9999",
                          "FAULT_TOKEN_FILE": str(token_file)})
    assert urls.shop == "http://shop:8000" and urls.payments == "http://127.0.0.1:8001"
    assert urls.loadgen == "http://127.0.0.1:9999"
    assert urls.fault_token == "from-file"
    assert urls_from_env({"FAULT_TOKEN": "direct", "FAULT_TOKEN_FILE": str(token_file)}).fault_token == "direct"
    assert urls_from_env({"FAULT_TOKEN_FILE": str(tmp_path / "missing")}).fault_token == ""
    assert "from-file" not in repr(urls)


def test_rate_comes_from_loadgen_rate_and_zero_turns_traffic_off():
    assert rate_from_env({}) == DEFAULT_RATE
    assert rate_from_env({"LOADGEN_RATE": "0"}) == 0
    assert rate_from_env({"LOADGEN_RATE": " 12.5 "}) == 12.5
    with pytest.raises(ValueError, match="must be a number of requests per second"):
        rate_from_env({"LOADGEN_RATE": "fast"})
    with pytest.raises(ValueError, match="must not be negative"):
        rate_from_env({"LOADGEN_RATE": "-1"})


def test_links_for_browsers_swap_compose_names_for_localhost():
    assert browser_url("http://inbox:8002", 8002) == "http://localhost:8002"
    assert browser_url("http://127.0.0.1:41234", 8002) == "http://127.0.0.1:41234"


def test_journey_mix_is_parsed_and_checked():
    assert parse_mix("browse=3, checkout=1") == {"browse": 3.0, "checkout": 1.0}
    for bad, message in (("teleport=1", "Unknown journey 'teleport'"), ("browse=x", "must be a number"),
                         ("browse=0", "at least one journey with a positive weight")):
        with pytest.raises(ValueError, match=message):
            parse_mix(bad)

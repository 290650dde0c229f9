"""The inbox's fault knob: break the last link of the alerting pipeline on purpose.

`refuse_webhooks` answers 503 to every post of Alertmanager (/webhook and
/heartbeat), as a receiver that is down or overloaded would: Alertmanager
retries, then counts the notification as failed. No alert reaches the inbox,
and the Watchdog's heartbeat stops too, which is what the dead man's switch
(heartbeat.py) must show. It acts at one marked site, `apply_faults`, before
every request; pages, the JSON listings, /api/heartbeat and the admin API stay
up, so the banner can be seen and the fault switched off.
"""
from flask import request

from app.common.errors import ApiError
from app.common.faults import Knob, fault_store
from app.inbox import metrics

REFUSE_WEBHOOKS = Knob("refuse_webhooks", "Answers 503 to every post of Alertmanager (/webhook and /heartbeat): "
                                          "the alerting pipeline's last link is broken.")
KNOBS = (REFUSE_WEBHOOKS,)
# What Alertmanager posts to; everything else works while the fault is on.
ALERTMANAGER_PATHS = ("/webhook", "/heartbeat")


def apply_faults() -> None:
    """Before every request: refuse Alertmanager's posts while refuse_webhooks is on."""
    if request.path not in ALERTMANAGER_PATHS or fault_store().params(REFUSE_WEBHOOKS.name) is None:
        return None
    metrics.WEBHOOKS_REJECTED.labels(reason="unavailable").inc()
    raise ApiError(503, "unavailable", "The inbox refuses Alertmanager's posts for now (fault: refuse_webhooks); "
                                       "Alertmanager retries them.", {"Retry-After": "30"})

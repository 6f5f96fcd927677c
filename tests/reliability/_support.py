"""Shared helpers of the reliability suite: the recognisable secret, the model, recorded sleeps.

(The counting transports that prove how many attempts were made, or that none was, are in `tests/fakes.py`.)
`install_fast_retries` puts a `RetryPolicy` whose sleeps are recorded (the core suite's `SleepRecorder`)
on an adapter's core client, so retries cost no time and their waits can be asserted.
"""

from __future__ import annotations

from typing import Protocol

from core._support import SleepRecorder  # tests/ is on sys.path (rootdir-relative test packages)

from gradient_integrations.core import ResponsesClient, RetryPolicy

# Shaped like a real DO model access key so the core's `redact()` pattern would catch it too: a leak
# that slipped past redaction would still show up verbatim in the scans below.
SECRET_KEY = "sk-do-RELIABILITY-SECRET-0123456789"
SECRET_FRAGMENT = "RELIABILITY-SECRET"  # also catches a key that was cut, quoted or re-encoded
KEY_ENV_VARS = ("GRADIENT_MODEL_ACCESS_KEY", "MODEL_ACCESS_KEY", "DIGITALOCEAN_INFERENCE_KEY")
MODEL = "llama3.3-70b-instruct"


class HasCoreClient(Protocol):
    """Both adapters expose their lazily created core client as `.client`."""

    @property
    def client(self) -> ResponsesClient: ...


def install_fast_retries(model: HasCoreClient, max_retries: int = 2) -> SleepRecorder:
    """Give `model`'s core client the default retry rules with recorded (instant) sleeps."""
    recorder = SleepRecorder()
    model.client.retry_policy = RetryPolicy(
        max_retries=max_retries, sleep=recorder, async_sleep=recorder.async_sleep
    )
    return recorder

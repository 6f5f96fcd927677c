"""`AccessKey`: the one way every class here holds the access key.

A `SecretStr` (so `repr`, `str`, JSON dumps and LangChain's standard tests see the usual mask) that:

- pickles as "read the key from this process's environment": a pickle, a task-queue payload or a cached
  model never carries the key, and an unpickled model finds its own (or has none, and says so when a
  call needs one: `ConfigurationError` naming the variables, never an `AttributeError`);
- is immutable and copies as itself: `copy`, `deepcopy` and `model_copy` share the one object instead of
  duplicating the secret, and a copy keeps working in the process that made it.

Classes holding a key therefore need no pickling or copying code of their own for it.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import SecretStr

__all__ = ["API_KEY_ENV_VARS", "AccessKey", "key_from_environment"]

API_KEY_ENV_VARS = ("GRADIENT_MODEL_ACCESS_KEY", "MODEL_ACCESS_KEY", "DIGITALOCEAN_INFERENCE_KEY")


class AccessKey(SecretStr):
    """An access key that never leaves the process in a pickle."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (key_from_environment, ())

    # Equal to any SecretStr holding the same key, whichever side of `==` it is on.
    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretStr) and self.get_secret_value() == other.get_secret_value()

    def __hash__(self) -> int:
        return hash(self.get_secret_value())

    def __copy__(self) -> AccessKey:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> AccessKey:
        return self

    @classmethod
    def of(cls, value: str | SecretStr | None) -> AccessKey | None:
        """The key as an `AccessKey` (None or an empty string: no key)."""
        if isinstance(value, AccessKey) or value is None:
            return value
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        return cls(value) if value else None


def key_from_environment() -> AccessKey | None:
    """The first of `API_KEY_ENV_VARS` that is set, else None."""
    for name in API_KEY_ENV_VARS:
        value = os.environ.get(name)
        if value:
            return AccessKey(value)
    return None

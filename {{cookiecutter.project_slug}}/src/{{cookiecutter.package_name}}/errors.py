"""Errors a person can act on: the message says what is missing and what produces it.

The local runner prints them as one line (``error: ...``) without a traceback; anything else is
unexpected and keeps its traceback.
"""


class ActionableError(Exception):
    """An expected problem (a missing input, nothing to roll back...) with a fix in its message."""


class MissingInputError(ActionableError, LookupError):
    """A table or model the task reads does not exist yet."""

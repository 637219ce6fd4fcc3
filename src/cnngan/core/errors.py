"""The user's mistakes, as one exception type: the entry-point frame prints its message and exits
with status 2, no traceback (HYDRA_FULL_ERROR=1 shows one). Bugs stay ordinary exceptions.
Also the one check of a count that must be at least 1 (`require_positive`)."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix (bad config value, missing data, bad checkpoint, bad images).

    The message names the problem and the fix.
    """

    exit_code = 2


class BadInputError(UserError, ValueError):
    """A value, image or file the user gave that cannot be used as it is (wrong size, range,
    format); still a ValueError for code that catches those."""


class MissingInputError(UserError, FileNotFoundError):
    """A file or folder the user named is not there or holds nothing usable."""


def require_positive(name: str, value: int | str, hint: str = "") -> int:
    """`value` as an int when it is at least 1; otherwise one message that names the setting
    ("n=0 must be at least 1", then `hint` in brackets when given)."""
    if int(value) < 1:
        raise BadInputError(f"{name}={value} must be at least 1" + (f" ({hint})" if hint else ""))
    return int(value)

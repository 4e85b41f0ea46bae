"""Small text hygiene shared by every place that stores or publishes member text."""

import re

# C0 control characters other than tab, newline and carriage return, DEL, and the
# non-characters XML 1.0 refuses: a member can paste them, feeds and emails cannot carry them.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def strip_controls(text: str) -> str:
    return _CONTROL.sub("", text)


def one_line(text: str) -> str:
    """Titles are one line: control characters go, runs of white space become one space."""
    return " ".join(strip_controls(text).split())

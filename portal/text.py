"""Small text hygiene shared by every place that stores or publishes member text."""

import re
import unicodedata

# C0 control characters other than tab, newline and carriage return, DEL, and the
# non-characters XML 1.0 refuses: a member can paste them, feeds and emails cannot carry them.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_KEPT_FORMAT = frozenset("\u200c\u200d")


def strip_controls(text: str) -> str:
    return _CONTROL.sub("", text)


def strip_format(text: str) -> str:
    """Drop invisible format characters (Unicode Cf): bidirectional overrides such as U+202E
    make a name or title read differently from what it is, zero-width ones hide in it.
    Zero-width (non-)joiners stay: emoji sequences and Persian words need them, as do the tag
    characters of subdivision flags."""
    return "".join(
        char
        for char in text
        if unicodedata.category(char) != "Cf"
        or char in _KEPT_FORMAT
        or "\U000e0020" <= char <= "\U000e007f"
    )


def one_line(text: str) -> str:
    """Names and titles are one line: control and invisible format characters go, runs of
    white space become one space."""
    return " ".join(strip_format(strip_controls(text)).split())

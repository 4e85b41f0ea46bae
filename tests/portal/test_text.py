"""Text hygiene for names and titles (portal/text.py)."""

import pytest

from portal.text import one_line, strip_format


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("\u202eevil\u202c", "evil"),  # right-to-left override and its pop
        ("a\u2066b\u2069c", "abc"),  # isolates
        ("zero\u200bwidth\ufeff", "zerowidth"),  # zero-width space, BOM
        ("soft\u00adhyphen", "softhyphen"),
        ("\u200e\u200fmarks", "marks"),
        ("👨\u200d👩\u200d👧 family", "👨\u200d👩\u200d👧 family"),  # ZWJ sequences stay
        ("می\u200cخواهم", "می\u200cخواهم"),  # a Persian word keeps its ZWNJ
        (
            "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
            "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
        ),  # the flag of Scotland
    ],
)
def test_strip_format_drops_invisible_format_characters_but_keeps_joiners(raw, clean):
    assert strip_format(raw) == clean


def test_one_line_strips_controls_format_and_breaks():
    assert one_line(" A\r\n title\t\u202ewith\x00 tricks ") == "A title with tricks"

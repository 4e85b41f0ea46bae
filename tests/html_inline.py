"""Find what a strict Content-Security-Policy would block in a page: inline scripts and styles."""

from __future__ import annotations

from html.parser import HTMLParser

# Script types a browser does not execute (data blocks): CSP leaves them alone.
DATA_SCRIPT_TYPES = {"application/json", "application/ld+json", "text/template"}


class _InlineFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_script = False
        self._script_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        line = self.getpos()[0]
        if tag == "script":
            kind = (attributes.get("type") or "").lower()
            if "src" not in attributes and kind not in DATA_SCRIPT_TYPES:
                self._in_script = True
                self._script_text = []
        if tag == "style":
            self.found.append(f"line {line}: <style> block")
        for name, value in attrs:
            if name == "style":
                self.found.append(f"line {line}: style attribute on <{tag}>: {value!r}")
            elif name.startswith("on"):
                self.found.append(f"line {line}: event handler {name} on <{tag}>")
            elif name in ("href", "src", "action") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.found.append(f"line {line}: javascript: URL in {name} on <{tag}>")

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self._script_text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._in_script:
            self._in_script = False
            text = " ".join("".join(self._script_text).split())
            self.found.append(f"line {self.getpos()[0]}: inline <script>: {text[:80]!r}")


def inline_code(html: str) -> list[str]:
    """Everything in `html` that needs 'unsafe-inline' (or a hash or nonce) to run or apply."""
    finder = _InlineFinder()
    finder.feed(html)
    finder.close()
    return finder.found

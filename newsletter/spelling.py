"""British and American spellings of the same word, so a search for one finds the other.

"quantization" finds an item that says "quantisation", and "modelling" one that says
"modeling". `spellings(word)` gives every spelling of a word we know of: by rule for the
regular families (-ise/-ize and -isation/-ization, -yse/-yze, -our/-or, a doubled l before
-ing/-ed/-er), from a list for the rest (centre, licence, catalogue, grey, ...).

A rule may invent a word nobody writes ("advertize"): harmless, it matches nothing. What it
must not do is turn a word into another real word, which the exceptions below prevent for the
words this field uses ("size" is not "sise", "four" is not "for").
"""

from __future__ import annotations

import re

_IS_SUFFIXES = ("ations", "ation", "able", "ing", "ers", "er", "ed", "es", "e")
# Words whose -ise is not a spelling of -ize (and the -ize words with no -ise spelling).
_NOT_IZE = frozenset(
    [
        "advertise",
        "advise",
        "apprise",
        "arise",
        "chastise",
        "circumcise",
        "comprise",
        "compromise",
        "concise",
        "cruise",
        "demise",
        "despise",
        "devise",
        "disguise",
        "enterprise",
        "excise",
        "exercise",
        "expertise",
        "franchise",
        "improvise",
        "incise",
        "merchandise",
        "noise",
        "otherwise",
        "paradise",
        "poise",
        "praise",
        "precise",
        "premise",
        "promise",
        "raise",
        "reprise",
        "revise",
        "rise",
        "supervise",
        "surmise",
        "surprise",
        "televise",
        "treatise",
        "wise",
        "likewise",
        "clockwise",
        "size",
        "resize",
        "downsize",
        "upsize",
        "oversize",
        "capsize",
        "seize",
        "prize",
        "maize",
        "baize",
        "assize",
    ]
)
# British roots that drop the u in American spelling, with what may follow them.
_OUR_ROOTS = [
    "armour",
    "behaviour",
    "candour",
    "clamour",
    "colour",
    "endeavour",
    "favour",
    "flavour",
    "harbour",
    "honour",
    "humour",
    "labour",
    "neighbour",
    "odour",
    "parlour",
    "rancour",
    "rigour",
    "rumour",
    "savour",
    "splendour",
    "tumour",
    "valour",
    "vapour",
    "vigour",
]
# Roots whose final l doubles before -ing, -ed and -er in British spelling only.
_LL_ROOTS = [
    "cancel",
    "channel",
    "counsel",
    "dial",
    "fuel",
    "funnel",
    "label",
    "level",
    "marshal",
    "model",
    "pixel",
    "signal",
    "total",
    "travel",
    "tunnel",
]
_LL_SUFFIXES = ("ing", "ed", "er", "ers")
# Pairs no rule covers: British first.
_PAIRS = {
    "aluminium": "aluminum",
    "analogue": "analog",
    "analogues": "analogs",
    "artefact": "artifact",
    "artefacts": "artifacts",
    "catalogue": "catalog",
    "catalogues": "catalogs",
    "catalogued": "cataloged",
    "centre": "center",
    "centres": "centers",
    "centred": "centered",
    "cancellation": "cancelation",
    "defence": "defense",
    "dialogue": "dialog",
    "dialogues": "dialogs",
    "enrolment": "enrollment",
    "fibre": "fiber",
    "fibres": "fibers",
    "fulfil": "fulfill",
    "fulfilment": "fulfillment",
    "grey": "gray",
    "greyscale": "grayscale",
    "judgement": "judgment",
    "judgements": "judgments",
    "acknowledgement": "acknowledgment",
    "licence": "license",
    "licences": "licenses",
    "litre": "liter",
    "manoeuvre": "maneuver",
    "metre": "meter",
    "metres": "meters",
    "offence": "offense",
    "programme": "program",
    "programmes": "programs",
    "sceptical": "skeptical",
    "skilful": "skillful",
    "ageing": "aging",
    "theatre": "theater",
    "travelogue": "travelog",
}
_PAIRS_BACK = {american: british for british, american in _PAIRS.items()}
_WORD = re.compile(r"[A-Za-z]+")


def _ise_ize(word: str) -> list[str]:
    out = []
    for suffix in _IS_SUFFIXES:
        for here, there in (("is", "iz"), ("iz", "is"), ("ys", "yz"), ("yz", "ys")):
            ending = here + suffix
            if not word.endswith(ending):
                continue
            stem = word[: -len(ending)]
            if len(stem) < 3 and here[0] == "i":
                continue
            base = f"{stem}{here}e"
            if base in _NOT_IZE or f"{stem}{there}e" in _NOT_IZE:
                continue
            out.append(stem + there + suffix)
        if out:
            break
    return out


def _our_or(word: str) -> list[str]:
    for root in _OUR_ROOTS:
        american = root[:-2] + "r"
        if word.startswith(root):
            return [american + word[len(root) :]]
        if word.startswith(american) and not word.startswith(root):
            return [root + word[len(american) :]]
    return []


def _double_l(word: str) -> list[str]:
    for root in _LL_ROOTS:
        for suffix in _LL_SUFFIXES:
            if word == f"{root}l{suffix}":
                return [root + suffix]
            if word == root + suffix:
                return [f"{root}l{suffix}"]
    return []


def spellings(word: str) -> list[str]:
    """The word (lower-cased) first, then its other spellings."""
    word = word.lower()
    others: list[str] = []
    if word in _PAIRS:
        others.append(_PAIRS[word])
    elif word in _PAIRS_BACK:
        others.append(_PAIRS_BACK[word])
    others += _ise_ize(word) + _our_or(word) + _double_l(word)
    return list(dict.fromkeys([word, *others]))


def query_variants(query: str, *, most: int = 3) -> list[str]:
    """The query written in each spelling (at most `most`), for websearch_to_tsquery.

    The first is the query as typed. A word left out with a minus sign is left out in every
    spelling, in each variant, so "-quantization" also drops items saying "quantisation".
    """
    spans: list[tuple[int, int, list[str], bool]] = []
    for match in _WORD.finditer(query):
        start = match.start()
        quoted = query.count('"', 0, start) % 2 == 1
        negated = not quoted and start > 0 and query[start - 1] == "-"
        if match.group(0).lower() == "or" and not quoted:
            continue
        options = spellings(match.group(0))
        if len(options) > 1:
            spans.append((start, match.end(), options, negated))
    if not spans:
        return [query]
    positive = [len(options) for _, _, options, negated in spans if not negated]
    count = min(most, max(positive, default=1))
    variants = []
    for index in range(count):
        parts, position = [], 0
        for start, end, options, negated in spans:
            parts.append(query[position:start])
            if negated:
                parts.append(" -".join(options))
            else:
                parts.append(options[min(index, len(options) - 1)] if index else query[start:end])
            position = end
        parts.append(query[position:])
        variants.append("".join(parts))
    return list(dict.fromkeys(variants))

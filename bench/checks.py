"""The one checker of suite sections: mappings with known keys and finite numbers in range, as one-line errors.

Every section owner (the suite itself, ``scoring:``, ``constraints:``, ``prices:``, ``capacity:``, ``gates:``) reads
its values through these, so a bad value reads the same wherever it is: the key path, what was found, what is
allowed. The errors are :class:`bench.errors.SuiteError`; the suite loader adds the file name.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from bench.errors import SuiteError, did_you_mean, printable

MAX_COUNT = 1 << 20
"""Largest batch size, thread count or device index (``hardware.cuda.devices``, ``include: device: cuda:N``) a suite
may name, and a record may hold (1048576)."""


def type_name(value: Any) -> str:
    """A YAML reader's name for a value's type (``string``, ``mapping``, ...)."""
    return {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "list",
        dict: "mapping",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def a(noun: str) -> str:
    """``noun`` with its indefinite article: ``a string``, ``an integer``."""
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"


def mapping(value: Any, key: str, allowed: Iterable[str], file: str | None = None) -> dict[str, Any]:
    """``value`` as a mapping whose keys are all in ``allowed`` (unknown keys get "did you mean")."""
    allowed = tuple(allowed)
    if not isinstance(value, dict):
        raise SuiteError(file, key or None, f"must be a mapping with keys {', '.join(allowed)}; got {type_name(value)}")
    for sub in value:
        if sub not in allowed:
            raise SuiteError(
                file,
                f"{key}.{sub}" if key else str(sub),
                f"unknown key.{did_you_mean(str(sub), allowed)} Allowed: {', '.join(allowed)}",
            )
    return value


def choice(value: Any, key: str, allowed: Iterable[str], what: str = "", file: str | None = None) -> Any:
    """``value`` when it is one of ``allowed``; else "unknown <what> 'x'. Did you mean ...? Allowed: ..."."""
    allowed = tuple(allowed)
    if isinstance(value, str) and value in allowed:
        return value
    named = f"{what} " if what else ""
    raise SuiteError(
        file, key, f"unknown {named}{value!r}.{did_you_mean(str(value), allowed)} Allowed: {', '.join(allowed)}"
    )


def number(
    value: Any,
    key: str,
    *,
    minimum: float = 0.0,
    strict: bool = False,
    maximum: float | None = None,
    file: str | None = None,
) -> float:
    """A finite number >= ``minimum`` (> with ``strict``) and <= ``maximum``; booleans, NaN and infinities are
    refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value):
        raise SuiteError(file, key, f"must be a finite number, got {short(value)}{_text_number(value)}")
    if value < minimum or (strict and value == minimum):
        raise SuiteError(file, key, f"must be {'>' if strict else '>='} {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise SuiteError(file, key, f"must be <= {maximum}, got {value}")
    return float(value)


_EXPONENT = re.compile(r"([-+]?[0-9]*\.?[0-9]+)[eE]([-+]?[0-9]+)")


def _text_number(value: Any) -> str:
    """Why a text that reads as a number is text: YAML 1.1 (PyYAML) reads a number with an exponent as text unless
    it has a dot and a signed exponent (``1e6`` and ``1.0e6`` are text, ``1.0e+6`` is a number), and a quoted number
    is text."""
    if not isinstance(value, str):
        return ""
    text = value.strip()
    exponent = _EXPONENT.fullmatch(text)
    if exponent:
        mantissa, power = exponent.groups()
        mantissa += "" if "." in mantissa else ".0"
        power = power if power[0] in "+-" else "+" + power
        if f"{mantissa}e{power}" != text.replace("E", "e"):  # else a number YAML reads, quoted
            return f" (YAML reads an exponent without a dot or a sign as text: write {mantissa}e{power})"
    try:
        number = float(text)
    except ValueError:
        return ""
    return " (text, not a number: write it without quotes)" if math.isfinite(number) else ""


def _finite(value: int | float) -> bool:
    """True for a float that is not NaN or infinite, and for an int a float can hold (10**400 cannot)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def short(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, so an error about a huge value stays one short line."""
    if isinstance(value, int) and value.bit_length() > 4 * limit:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_commit(commit: Any, length: int = 12) -> str:
    """A recorded ``git_commit`` as tables and summaries show it: its first ``length`` characters (7 under a trend
    chart), and the ``+dirty`` or ``+unchecked`` after them that says the run's code was not that commit's (cut to 12
    characters, a run of uncommitted changes read as the clean commit, which ``bench gate --rerun`` then refused to
    re-run as dirty)."""
    text = str(commit or "")
    sha, _, state = text.partition("+")
    return sha[:length] + (f"+{state}" if state in ("dirty", "unchecked") else "")


def plain_text(value: Any, limit: int | None = None) -> str:
    """``value`` as a chart label drawn as written: matplotlib reads text between two ``$`` as math, drawing
    ``a$x$`` as an italic x and failing on ``a$\\frac{$``; each ``$`` is escaped so that it is drawn as a dollar, and a
    control character is drawn as its escape (``\\x1b``: no font has a glyph for it), a tab too (``\\t``; a newline
    breaks the line). With ``limit``, a longer text is cut in the middle to that many characters (its start and its
    end: a case id's model and its configuration), so that a label of 5000 characters leaves room for the chart."""
    text = str(value)
    if limit is not None and len(text) > limit:
        text = f"{text[: limit - limit // 3 - 1]}…{text[-(limit // 3) :]}"
    return printable(text).replace("$", r"\$").replace("\t", r"\t")


def probability(value: Any, key: str, what: str = "the test level, e.g. 0.01", file: str | None = None) -> float:
    """A number strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise SuiteError(file, key, f"must be a number between 0 and 1 ({what}); got {value!r}")
    return float(value)

"""Reading a user's YAML file (a suite, a price table) within fixed bounds, every refusal one line.

A suite is configuration, not data, so the reader refuses what no suite needs and what would hang or exhaust
memory: files over :data:`MAX_BYTES`, text that is not UTF-8, nesting deeper than :data:`MAX_DEPTH`, documents
that expand (through YAML aliases, "billion laughs") to more than :data:`MAX_VALUES` values, recursive aliases,
and duplicate keys (YAML would silently keep the last). The errors are :class:`bench.errors.SuiteError` naming
the file and, where known, the line and column.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from bench.errors import SuiteError

MAX_BYTES = 1024 * 1024
"""Largest file read (1 MiB; the shipped suites are a few KB)."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and lists, aliases expanded."""
MAX_VALUES = 100_000
"""Most values (scalars, lists, mappings) in one document, aliases expanded."""
_MERGE_TAG = "tag:yaml.org,2002:merge"
_TOO_MANY = f"expands to more than {MAX_VALUES} values (aliases included)"


class _Refused(yaml.MarkedYAMLError):
    """A document the reader refuses on purpose (not a syntax error)."""


try:
    from yaml._yaml import CParser

    class _Events(CParser):
        """libyaml's parser (C): events come many times faster than from the pure-Python parser."""

except ImportError:  # PyYAML built without libyaml

    class _Events(Reader, Scanner, Parser):  # type: ignore[no-redef]
        def __init__(self, stream: str):
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)


class _Resolver(Resolver):
    """PyYAML's resolver without YAML 1.1's sexagesimal and octal numbers, which YAML 1.2 dropped: ``rows: 1:30``
    was read as 90 and ``threads: 010`` as 8, without a word. Such a value stays a string, so a key that wants a
    number refuses it in one line, naming the value as written."""

    yaml_implicit_resolvers: ClassVar[dict[Any, list[tuple[str, re.Pattern[str]]]]] = {
        first: [
            (tag, re.compile(r"^(?![-+]?0[0-7_]+$)(?!.*:)" + regexp.pattern.removeprefix("^"), regexp.flags))
            if tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
            else (tag, regexp)
            for tag, regexp in resolvers
        ]
        for first, resolvers in Resolver.yaml_implicit_resolvers.items()
    }


class _BoundedLoader(Composer, SafeConstructor, _Resolver, _Events):
    """PyYAML's safe loader, composed in Python so that the limits apply while the tree is built: a nesting limit
    and a node budget, duplicate keys refused, and the expanded size of the document (aliases included) checked
    before anything is constructed from it."""

    def __init__(self, stream: str):
        _Events.__init__(self, stream)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        _Resolver.__init__(self)
        self._depth = 0
        self._composed = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        self._depth += 1
        self._composed += 1
        try:
            if self._depth > MAX_DEPTH or self._composed > MAX_VALUES:
                limit = f"nested deeper than {MAX_DEPTH} levels" if self._depth > MAX_DEPTH else _TOO_MANY
                raise _Refused(problem=limit, problem_mark=self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_mapping_node(self, anchor: str | None) -> MappingNode:
        node = super().compose_mapping_node(anchor)
        seen: dict[Any, tuple[int, ScalarNode]] = {}
        for index, (key, _) in enumerate(node.value):
            if isinstance(key, ScalarNode) and key.tag != _MERGE_TAG:
                place, first = seen.setdefault(self._key_value(key), (index, key))
                if place != index:  # not by identity: an alias (*a) is the very node it names
                    same = "" if first.value == key.value else f" as {first.value!r}, the same key once read"
                    problem = (
                        f"duplicate key {key.value!r} (first at line {first.start_mark.line + 1}{same}); "
                        "give each key once"
                    )
                    raise _Refused(problem=problem, problem_mark=key.start_mark)
        return node

    def _key_value(self, key: ScalarNode) -> Any:
        """The value a scalar key is read as, by which the mapping keeps it: ``1``, ``1.0`` and ``true`` are one
        key to Python (``True == 1 == 1.0``), as are ``true`` and ``True``, so two of them in one mapping kept
        only the last without a word (comparing the keys as written let them through). A key that cannot be read
        is compared as written (its construction fails later, with its own error)."""
        construct = self.yaml_constructors.get(key.tag)
        if construct is None:
            return (key.tag, key.value)
        try:
            value = construct(self, key)
            hash(value)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError):
            return (key.tag, key.value)
        return value

    def get_single_node(self) -> Node | None:
        node = super().get_single_node()
        if node is not None:
            _expanded_size(node, 1, {}, set())
        return node

    def construct_yaml_int(self, node: ScalarNode) -> Any:
        """An integer as PyYAML reads it; one of more digits than Python converts (4300) is read as a
        :class:`_LongInteger`, which :func:`parse` refuses under its key (Python's own error names no key, and
        advises ``sys.set_int_max_str_digits``)."""
        try:
            return super().construct_yaml_int(node)
        except ValueError:
            digits = sum(c.isdigit() for c in str(node.value))
            if digits <= 4300:  # not the length: another malformed integer, as PyYAML says
                raise
            return _LongInteger(digits)


class _LongInteger:
    """An integer of thousands of digits, as it was read: never converted (Python refuses to turn one of more than
    4300 digits into text or back), and never handed on: :func:`parse` refuses the document, naming its key."""

    def __init__(self, digits: int):
        self.digits = digits


def _long_integer(value: Any, where: str = "") -> tuple[str, int] | None:
    """The key path (``measure.min_rounds``, ``batch_sizes[0]``) and digits of the first :class:`_LongInteger` in a
    parsed document, or ``None``."""
    if isinstance(value, _LongInteger):
        return where, value.digits
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{where}.{key}" if where else str(key)
            if isinstance(key, _LongInteger):
                return (where or "a key"), key.digits
            found = _long_integer(item, name)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _long_integer(item, f"{where}[{index}]")
            if found:
                return found
    return None


_BoundedLoader.add_constructor("tag:yaml.org,2002:int", _BoundedLoader.construct_yaml_int)


def _expanded_size(node: Node, depth: int, memo: dict[int, tuple[int, int]], active: set[int]) -> tuple[int, int]:
    """(values, height) of ``node`` with aliases expanded; refuses cycles, depth and size beyond the limits.

    Memoized by node, so a document of N distinct nodes costs O(N) however large its expansion is."""
    key = id(node)
    if key in active:
        raise _Refused(problem="a recursive alias (a value that contains itself)", problem_mark=node.start_mark)
    if key not in memo:
        if depth > MAX_DEPTH:
            raise _Refused(problem=f"nested deeper than {MAX_DEPTH} levels", problem_mark=node.start_mark)
        children: list[Node] = []
        if isinstance(node, SequenceNode):
            children = list(node.value)
        elif isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        active.add(key)
        size, height = 1, 1
        for child in children:
            child_size, child_height = _expanded_size(child, depth + 1, memo, active)
            size, height = size + child_size, max(height, child_height + 1)
            if size > MAX_VALUES:
                raise _Refused(problem=_TOO_MANY, problem_mark=node.start_mark)
        active.discard(key)
        memo[key] = (size, height)
    size, height = memo[key]
    if depth + height - 1 > MAX_DEPTH:
        raise _Refused(problem=f"nested deeper than {MAX_DEPTH} levels", problem_mark=node.start_mark)
    return size, height


def _where(err: yaml.YAMLError) -> str | None:
    mark = getattr(err, "problem_mark", None)
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark else None


def parse(text: str, file: str) -> Any:
    """The YAML document in ``text``, within the bounds; any refusal is a one-line :class:`SuiteError`."""
    try:
        document = yaml.load(text, Loader=_BoundedLoader)  # a SafeLoader subclass
    except _Refused as err:
        raise SuiteError(file, _where(err), str(err.problem)) from None
    except yaml.YAMLError as err:
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        if "maximum nesting depth" in str(problem):  # libyaml's own limit (PyYAML >= 6.0.4), met before ours
            raise SuiteError(file, _where(err), f"nested deeper than {MAX_DEPTH} levels") from None
        raise SuiteError(file, _where(err), f"YAML syntax error: {problem}") from None
    except (ValueError, OverflowError, RecursionError, MemoryError) as err:
        message = " ".join(str(err).split())[:200] or type(err).__name__
        raise SuiteError(file, None, f"unreadable value: {message}") from None
    found = _long_integer(document)
    if found:
        where, digits = found
        raise SuiteError(file, where or None, f"an integer of {digits} digits: no setting takes a number that long")
    return document


def not_regular(mode: int) -> str | None:
    """What a path of this ``st_mode`` is when it is not a regular file (``"a FIFO (named pipe)"``), else None."""
    if stat.S_ISREG(mode):
        return None
    for test, kind in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "not a regular file"


@contextmanager
def open_regular(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A regular file opened to be read (binary, buffered), for a reader that goes through it a line at a time.

    The file is opened without blocking and checked before reading, so a FIFO (which would wait for a writer), a
    device (``/dev/zero`` never ends) or a folder raises :class:`OSError` at once, saying what it is."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        kind = not_regular(os.fstat(fd).st_mode)
        if kind is not None:
            raise OSError(f"it is {kind}, not a regular file")
        handle = os.fdopen(fd, "rb")  # it closes fd from here on
    except BaseException:
        os.close(fd)
        raise
    with handle:
        yield handle


def read_regular(path: str | os.PathLike[str], limit: int | None = None) -> bytes:
    """A regular file's bytes (at most ``limit + 1`` of them when ``limit`` is given), checked as
    :func:`open_regular` checks it. Read in pieces up to the limit, so that memory follows the file, not the limit
    (before, ``read(limit + 1)`` set aside all of it at once: 256 MiB for every small ``meta.json`` of a listing,
    a ``MemoryError`` under ``ulimit -v``)."""
    with open_regular(path) as handle:
        if limit is None:
            return handle.read()
        pieces, left = [], limit + 1
        while left > 0:
            piece = handle.read(min(left, READ_PIECE))
            if not piece:
                break
            pieces.append(piece)
            left -= len(piece)
        return b"".join(pieces)


READ_PIECE = 1 << 20
"""The most bytes :func:`read_regular` asks for at once, and a reader of lines past one too long to keep
(:func:`bench.results.reading._lines`)."""


def read_text(path: str | os.PathLike[str], what: str = "file") -> str:
    """The file's text: at most :data:`MAX_BYTES`, strict UTF-8, of a regular file only (:func:`read_regular`); an
    unreadable file is a one-line error."""
    try:
        data = read_regular(path, MAX_BYTES)
    except OSError as err:
        raise SuiteError(str(path), None, f"cannot read {what}: {err.strerror or err}") from None
    if len(data) > MAX_BYTES:
        raise SuiteError(str(path), None, f"larger than {MAX_BYTES // 1024} KiB; a {what} is a small text file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        byte = data[err.start : err.start + 1].hex()
        raise SuiteError(str(path), None, f"not UTF-8 text (byte 0x{byte} at offset {err.start})") from None


def load(path: str | os.PathLike[str], what: str = "file") -> Any:
    """Read and parse one YAML file within the bounds (see the module's docstring)."""
    return parse(read_text(Path(path), what), str(path))

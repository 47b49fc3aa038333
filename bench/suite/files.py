"""Suite files: finding them, reading YAML safely, and merging ``extends`` parents (deep merge, cycles rejected)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from bench import safe_yaml
from bench.errors import SuiteError, os_reason, printable, short_name

MAX_EXTENDS = 32
"""Most files one suite may be built from (itself and its ``extends`` parents)."""


SUITE_SUFFIXES = (".yaml", ".yml")
"""How a suite file's name ends (:func:`is_suite_file`)."""


def is_suite_file(path: Path) -> bool:
    """YAML files not starting with ``_`` (``_defaults.yaml`` and the like are for ``extends`` only)."""
    return path.suffix in SUITE_SUFFIXES and not path.name.startswith("_")


def fragment_line(path: str | os.PathLike[str]) -> str:
    """What to say about a shared fragment (``_defaults.yaml``) named where a suite is wanted."""
    return (
        f"{path}: a shared fragment (files starting with '_' are only used through extends:), not a suite: "
        "name a suite that extends it"
    )


def name_problem(path: str | os.PathLike[str]) -> str | None:
    """The one line for a suite file whose name is not UTF-8 text (bytes the file system's encoding could not
    decode), or ``None``: pytest writes the session's node ids in UTF-8, and failed on it after the last case, so
    ``bench run`` refuses such a name before the first and ``bench validate`` does not call it ok."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return f"{ascii(str(path))[1:-1]}: the file name is not UTF-8 text; rename it"
    return None


def in_suites_folder(path: Path) -> bool:
    """Whether pytest collects the suite file ``path`` from a folder it is given: only inside a folder named
    ``suites`` (elsewhere a suite file is collected only when it is named itself), so that ``pytest .`` does not
    read every YAML file of a project as a suite."""
    return "suites" in Path(os.path.abspath(path)).parent.parts


def discover(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Suite files among ``paths``: files as given, directories searched recursively."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        try:
            kind = _kind(path)
        except OSError as err:  # e.g. a file name too long to look up
            raise SuiteError(short_name(str(path)), None, f"cannot read: {os_reason(err)}") from None
        if kind == "a folder":
            found += sorted(p for p in _walk(path) if is_suite_file(p))
        elif kind is None:
            found.append(path)
        elif kind == "missing":
            raise SuiteError(str(path), None, "no such file or directory")
        else:
            raise SuiteError(str(path), None, f"is {kind}, not a regular file; give a suite YAML file or a folder")
    return found


def _walk(folder: Path) -> Iterator[Path]:
    """The regular files under ``folder``, through symlinked folders too (as pytest collects them); a link to a
    folder above it is an error: pytest would walk that loop for ever."""
    for root, folders, files in os.walk(folder, followlinks=True):
        here = os.path.realpath(root)
        for name in folders:
            link = os.path.join(root, name)
            target = os.path.realpath(link)
            if os.path.islink(link) and (here == target or here.startswith(target + os.sep)):
                raise SuiteError(
                    link, None, f"links to {target}, a folder above it: a loop pytest would walk for ever; remove it"
                )
        yield from (Path(root) / name for name in files if os.path.isfile(os.path.join(root, name)))


def _kind(path: Path) -> str | None:
    """None for a regular file, ``"missing"``, or what else the path is (``"a folder"``, ``"a FIFO ..."``); an
    OSError when the path cannot be looked up at all (a name too long, no permission)."""
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "missing"
    return safe_yaml.not_regular(mode)


def _read_yaml(path: Path) -> dict[str, Any]:
    data = safe_yaml.load(path, "suite file")
    if data is None:
        raise SuiteError(str(path), None, "the file is empty; a suite needs at least 'suite' and 'models'")
    if not isinstance(data, dict):
        raise SuiteError(str(path), None, f"a suite must be a mapping of keys, not a {type(data).__name__}")
    return data


def _deep_merge(base: dict[str, Any], local: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in local.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def resolve_extends(
    path: Path, chain: tuple[Path, ...] = (), files: list[Path] | None = None, root: Path | None = None
) -> dict[str, Any]:
    """The suite file merged over its ``extends`` parents (depth first); ``files`` collects every file read.

    ``chain`` holds the resolved files above this one (cycles are found on them); errors about the chain name
    ``root``, the suite file as the user gave it, like every other error of that suite."""
    root = root or path
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(p.name for p in (*chain, resolved))
        raise SuiteError(str(root), "extends", f"cycle: {cycle}")
    if len(chain) >= MAX_EXTENDS or (files is not None and len(files) >= MAX_EXTENDS):
        raise SuiteError(str(root), "extends", f"more than {MAX_EXTENDS} files in the chain of parents")
    data = _read_yaml(path)
    if files is not None:
        files.append(path)
    parents = data.pop("extends", None)
    if parents is None:
        return data
    if isinstance(parents, str):
        parents = [parents]
    if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
        raise SuiteError(str(path), "extends", "must be a file name or a list of file names (relative to this file)")
    merged: dict[str, Any] = {}
    for parent in parents:
        parent_path = path.parent / parent
        shown = printable(short_name(parent))  # a control character in the name would drive the terminal
        if not parent.strip():  # an empty name is this file's folder: it was "'' is a folder"
            raise SuiteError(str(path), "extends", "an empty file name; name a suite YAML file (relative to this file)")
        if "\0" in parent:  # the OS takes no such name: os.stat raised ValueError, a traceback
            raise SuiteError(str(path), "extends", f"'{shown}' contains a NUL character, which no file name can")
        try:
            kind = _kind(parent_path)
        except OSError as err:  # e.g. a file name too long to look up
            raise SuiteError(str(path), "extends", f"'{shown}' cannot be read: {os_reason(err)}") from None
        if kind == "missing":
            looked = printable(short_name(str(parent_path)))
            raise SuiteError(str(path), "extends", f"'{shown}' not found (looked for {looked})")
        if kind is not None:
            raise SuiteError(str(path), "extends", f"'{shown}' is {kind}, not a regular file (a suite YAML file)")
        merged = _deep_merge(merged, resolve_extends(parent_path, (*chain, resolved), files, root))
    return _deep_merge(merged, data)

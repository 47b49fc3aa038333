"""What README.md and docs/*.md show a user, checked against the code, so that the text cannot drift from it.

Every ``yaml`` example validates as a suite (a fragment, such as a ``gates:`` section, inside a minimal suite),
every ``python`` example parses, every ``bench`` command line shown names only options that command has, every
plugin option named exists, and every relative link leads to a file and, with ``#``, to one of its headings.
"""

from __future__ import annotations

import argparse
import ast
import re
import shlex
import shutil
from pathlib import Path

import pytest
import yaml

from bench.cli import build_parser
from bench.suite import load_suite

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def blocks(language: str) -> list[pytest.param]:
    """Every fenced block of ``language`` in the docs, as a param named ``FILE:LINE``."""
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            if match.group(1) == language:
                line = text.count("\n", 0, match.start()) + 1
                found.append(pytest.param(match.group(2), id=f"{doc.relative_to(ROOT)}:{line}"))
    return found


MINIMAL = {"suite": "doc-example", "models": "[dlrm-tiny]", "hardware": "{cpu: {threads: [1, 2]}}"}
"""What a fragment of a suite lacks to be one: a name, a model, and two thread counts (a ``scoring.reference`` may
name 2 threads)."""


@pytest.mark.parametrize("example", blocks("yaml"))
def test_every_yaml_example_is_a_valid_suite(example, tmp_path, monkeypatch):
    keys = yaml.safe_load(example) or {}
    wrapper = "".join(f"{key}: {value}\n" for key, value in MINIMAL.items() if key not in keys)
    folder = tmp_path / "suites"
    folder.mkdir()
    shutil.copy(ROOT / "suites" / "_defaults.yaml", folder)  # what `extends: _defaults.yaml` names
    (folder / "example.yaml").write_text(wrapper + example, encoding="utf-8")
    monkeypatch.syspath_prepend(str(ROOT / "examples" / "user_model"))  # what `factory: "my_models:build"` names
    assert load_suite(folder / "example.yaml").cases


@pytest.mark.parametrize("example", blocks("python"))
def test_every_python_example_parses(example):
    ast.parse(example)


def subcommands() -> dict[str, argparse.ArgumentParser]:
    """``bench``'s subcommands by name, ``baseline set`` and ``baseline show`` included."""
    found = {}

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        for action in parser._actions:  # argparse has no public accessor for its subparsers
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    found[f"{prefix}{name}"] = sub
                    walk(sub, f"{prefix}{name} ")

    walk(build_parser(), "")
    return found


def command_lines() -> list[pytest.param]:
    """Every ``bench ...`` command of the docs' shell blocks, one param per command (``a && b`` is two)."""
    found = []
    for param in blocks("bash"):
        (example,) = param.values
        for line in example.replace("\\\n", " ").splitlines():  # a line continued with \ is one line
            code = line.split(" #", 1)[0]
            for command in code.split("&&"):
                words = shlex.split(command)
                if words[:1] == ["bench"] and "[" not in command:  # not a synopsis: `bench report [RUN] ...`
                    found.append(pytest.param(words[1:], id=f"{param.id}: {command.strip()}"))
    return found


@pytest.mark.parametrize("words", command_lines())
def test_every_bench_command_shown_uses_options_it_has(words):
    commands = subcommands()
    name = " ".join(words[:2]) if " ".join(words[:2]) in commands else words[0]
    parser = commands[name]
    options = {option for action in parser._actions for option in action.option_strings}
    given = words[: words.index("--")] if "--" in words else words  # after `--`, bench run's words are pytest's
    unknown = [word.split("=", 1)[0] for word in given if word.startswith("--")]
    assert [option for option in unknown if option not in options] == []


def test_every_plugin_option_named_exists():
    plugin = (ROOT / "bench" / "plugin.py").read_text(encoding="utf-8")
    named = {option for doc in DOCS for option in re.findall(r"--bench-[a-z-]+", doc.read_text(encoding="utf-8"))}
    assert named, "the docs name the plugin's options"
    assert sorted(option for option in named if f'"{option}"' not in plugin) == []


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def links() -> list[pytest.param]:
    found = []
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text(encoding="utf-8")):
            if not re.match(r"[a-z]+:", target):  # not http:, https:, mailto:
                found.append(pytest.param(doc, target, id=f"{doc.relative_to(ROOT)} -> {target}"))
    return found


@pytest.mark.parametrize(("doc", "target"), links())
def test_every_relative_link_leads_somewhere(doc, target):
    path, _, fragment = target.partition("#")
    file = (doc.parent / path).resolve() if path else doc
    assert file.exists(), f"{target}: no such file"
    if fragment:
        headings = re.findall(r"^#+ (.+)$", file.read_text(encoding="utf-8"), re.M)
        assert fragment in {anchor(heading) for heading in headings}


DURATION = re.compile(r"about ([\w.]+ (?:minutes?|seconds)|a minute) on (\d+) cores")


def test_a_suites_duration_reads_the_same_in_the_docs_as_in_the_suite_itself():
    """README.md said `suites/load.yaml` takes "about a minute on 2 cores", the suite's own comment "about 2
    minutes on 2 cores"."""
    stated = {}
    for suite in sorted((ROOT / "suites").glob("*.yaml")):
        lines = suite.read_text(encoding="utf-8").splitlines()
        found = DURATION.search(" ".join(" ".join(line.lstrip("# ") for line in lines if line[:1] == "#").split()))
        if found:
            stated[suite.name] = found.group(0)
    assert "load.yaml" in stated, "the suites state how long they take"
    differing = []
    for doc in DOCS:
        text = " ".join(doc.read_text(encoding="utf-8").split())
        for name, aside in re.findall(r"`suites/([\w.-]+\.yaml)` \(([^()]*)\)", text):
            found = DURATION.search(aside)
            if found and name in stated and found.group(0) != stated[name]:
                differing.append(f"{doc.name}: suites/{name}: {found.group(0)!r}, the suite: {stated[name]!r}")
    assert differing == []


FAILED_NOW = re.compile(r"A case ok in the baseline that fails now is \*([a-z ]+)\*")
FAILED_IN_BASELINE = re.compile(r"one that failed or was skipped in the baseline \([^()]*\),\s+is \*([a-z ]+)\*")


def test_what_the_gate_docs_call_a_failed_case_is_the_verdict_it_gets(tmp_path):
    """docs/gates.md said "a case that failed on either side, is *not comparable*", and its exit-0 row allowed
    not-comparable rows for failed cases; a case ok in the baseline that fails now is *regressed* (exit 1)."""
    from bench import gate
    from tests.gate_helpers import latencies, make_run

    text = " ".join((ROOT / "docs" / "gates.md").read_text(encoding="utf-8").split())
    results = tmp_path / "results"
    make_run(results, "base", {"m[a]": {"samples": latencies(1)}, "m[b]": {"status": "failed", "error": "boom"}})
    make_run(results, "cur", {"m[a]": {"status": "failed", "error": "boom"}, "m[b]": {"samples": latencies(2)}})
    verdicts = {v.case: v.verdict for v in gate.gate_runs(["base"], ["cur"], results).verdicts}
    assert [match.group(1) for match in FAILED_NOW.finditer(text)] == [verdicts["demo::m[a]"]] == ["regressed"]
    assert [match.group(1) for match in FAILED_IN_BASELINE.finditer(text)] == [verdicts["demo::m[b]"]]


def test_the_gate_docs_exit_2_row_names_every_difference_that_refuses_all_cases(tmp_path):
    """Was: exit 2 "because the environments differ"; runs whose `measure:` settings differ exit 2 too."""
    from bench import gate
    from tests.gate_helpers import latencies, make_run

    row = next(
        line for line in (ROOT / "docs" / "gates.md").read_text(encoding="utf-8").splitlines() if line[:5] == "| 2 |"
    )
    results = tmp_path / "results"
    runs = {"base": ({}, 0.2), "settings": ({}, 0.3), "env": ({"cpu_model": "Other CPU"}, 0.2)}
    for run_id, (env, min_time_s) in runs.items():
        make_run(results, run_id, {"m[a]": {"samples": latencies(1)}}, env=env, measure={"min_time_s": min_time_s})
    refused = {name: gate.gate_runs(["base"], [name], results).exit_code for name in ("settings", "env")}
    assert refused == {"settings": 2, "env": 2}
    assert "the environments or the `measure:` settings differ" in row

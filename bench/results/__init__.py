"""Results: the versioned record schema, an append-only crash-safe store, and loading into pandas.

Layout of one run, ``results/<run_id>/``:

* ``meta.json`` -- the run: id, status (``running`` / ``finished`` / ``interrupted``), suites, environment, argv,
  wall and measuring time. Rewritten atomically at start and end, and ``fsync``'ed (file, then folder).
* ``records.jsonl`` -- one JSON record per case, appended, flushed and fsync'ed as soon as the case finishes, so
  a crash or a kill keeps every finished case.
* ``samples.jsonl`` -- per case, the raw latency samples in milliseconds (one per timed round).

The package follows a run's life: :mod:`~bench.results.paths` (where runs live, what a run id may be),
:mod:`~bench.results.record` (the record of one case), :mod:`~bench.results.writer` (writing a run that survives
a crash), :mod:`~bench.results.reading` (reading its files as far as they are intact) and
:mod:`~bench.results.runs` (the runs of a folder, their status, loading them into pandas). Everything a caller
needs is importable from ``bench.results`` itself. Private helpers are not re-exported: a test that replaces one
patches the module that uses it (``bench.results.writer._write_json_atomic``), and patching a copy here would
change nothing.
"""

from __future__ import annotations

from bench.results.paths import (  # noqa: F401
    DEFAULT_RESULTS_DIR,
    MAX_RUN_ID,
    PYTEST_INI_FILES,
    PYTEST_SECTIONS,
    RESERVED_RUN_IDS,
    RUN_ID_PATTERN,
    RUN_ID_RULE,
    default_reports_dir,
    default_results_dir,
    new_run_id,
    project_root,
    results_folder,
    run_id_problem,
)
from bench.results.reading import (  # noqa: F401
    LATENCY_ORDER,
    MAX_LINE_BYTES,
    MAX_META_BYTES,
    NAME_RULE,
    NOT_UNICODE,
    POSITIVE,
    RANGE_RULE,
    REQUIRED_KEYS,
    SHARES,
    SIGNED,
    TIME_KEYS,
    NewerSchemaWarning,
    ResultsWarning,
    broken_link,
    unicode_text,
)
from bench.results.record import (  # noqa: F401
    COLUMNS,
    ENVIRONMENT_FIELDS,
    IDENTITY_FIELDS,
    SCHEMA_VERSION,
    STATUSES,
    Record,
)
from bench.results.runs import (  # noqa: F401
    DAY_S,
    EMPTY_RUN,
    NAMED_BY,
    READ_KEYS,
    RUN_FILES,
    RUN_STATUSES,
    SAME_MACHINE,
    UNNAMED,
    ResultsError,
    RunFolder,
    checked_samples,
    killed_empty,
    list_runs,
    load,
    load_meta,
    load_samples,
    open_run,
    open_runs,
    past_case_seconds,
    quiet_for,
    read_meta,
    report_name_problem,
    resolve_run,
    run_damage,
    run_dirs,
    run_holding,
    running_who,
    runs_here,
    unlistable,
)
from bench.results.writer import (  # noqa: F401
    HELD_SIGNALS,
    STOP_KEYS,
    TAIL_CHUNK,
    ResultsWriteError,
    RunBusyError,
    RunWriter,
    drop_cut_short_line,
    json_safe,
    signals_held,
)

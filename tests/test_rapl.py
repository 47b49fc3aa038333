"""RAPL on a fake powercap tree: zone selection, wrap-around, permission errors, the CPU energy pass end to end."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from bench.measure import energy, rapl
from bench.measure.energy import FIELDS, measure_energy
from bench.spec import MeasureSpec

RANGE_UJ = 262_143_328_850  # a real package's max_energy_range_uj


@pytest.fixture(autouse=True)
def _fresh_reports():
    energy._reported.clear()
    yield
    energy._reported.clear()


def write_atomic(path: Path, text: str) -> None:
    """Like the kernel, readers never see a half-written value."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def make_zone(root: Path, folder: str, name: str, energy_uj: int, range_uj: int = RANGE_UJ) -> Path:
    zone = root / folder
    zone.mkdir(parents=True)
    (zone / "name").write_text(name + "\n")
    (zone / "energy_uj").write_text(f"{energy_uj}\n")
    (zone / "max_energy_range_uj").write_text(f"{range_uj}\n")
    return zone


def server_tree(root: Path, package_uj: int = 1_000, dram_uj: int = 5_000) -> Path:
    """One socket with core and dram sub-zones, a psys zone and an MMIO duplicate of the package."""
    make_zone(root, "intel-rapl:0", "package-0", package_uj)
    make_zone(root, "intel-rapl:0:0", "core", 77)
    make_zone(root, "intel-rapl:0:2", "dram", dram_uj, range_uj=65_712_999_613)
    make_zone(root, "intel-rapl:1", "psys", 99)
    make_zone(root, "intel-rapl-mmio:0", "package-0", 55)
    (root / "intel-rapl").mkdir()  # the control type folder, no counter
    return root


def bumper(zones: dict[Path, int], ranges: dict[Path, int]):
    """A fake model call that makes each zone's counter advance by a fixed number of microjoules (wrapping)."""
    calls = []

    def call() -> None:
        for path, step in zones.items():
            now = int((path / "energy_uj").read_text())
            write_atomic(path / "energy_uj", str((now + step) % ranges[path]))
        calls.append(1)
        time.sleep(0.001)

    call.calls = calls
    return call


def spec(**kwargs) -> MeasureSpec:
    return MeasureSpec(**{"energy_min_s": 0.05, **kwargs})


# ----------------------------------------------------------------------------------------------- zones


def test_find_zones_keeps_package_and_dram_only(tmp_path):
    zones = rapl.find_zones(server_tree(tmp_path))
    assert [z.label for z in zones] == ["package-0", "dram-0"]
    assert zones[1].max_energy_range_uj == 65_712_999_613
    assert rapl.read_all(zones) == {"package-0": 1_000, "dram-0": 5_000}


def test_two_sockets(tmp_path):
    make_zone(tmp_path, "intel-rapl:0", "package-0", 1)
    make_zone(tmp_path, "intel-rapl:1", "package-1", 2)
    make_zone(tmp_path, "intel-rapl:1:0", "dram", 3)
    assert [z.label for z in rapl.find_zones(tmp_path)] == ["package-0", "package-1", "dram-1"]


def test_two_sockets_of_one_name_are_both_counted(tmp_path):
    """Firmware that calls every socket ``package-0``: keyed by name, the second socket's energy was lost."""
    make_zone(tmp_path, "intel-rapl:0", "package-0", 1)
    make_zone(tmp_path, "intel-rapl:1", "package-0", 2)
    zones = rapl.find_zones(tmp_path)
    assert [z.label for z in zones] == ["package-0 (intel-rapl:0)", "package-0 (intel-rapl:1)"]
    assert rapl.read_all(zones) == {"package-0 (intel-rapl:0)": 1, "package-0 (intel-rapl:1)": 2}


def test_root_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(rapl.ROOT_ENV, str(server_tree(tmp_path)))
    assert rapl.rapl_root() == tmp_path
    assert len(rapl.find_zones()) == 2
    monkeypatch.delenv(rapl.ROOT_ENV)
    assert rapl.rapl_root() == rapl.DEFAULT_ROOT


@pytest.mark.parametrize("make", [lambda root: root / "absent", lambda root: root])
def test_no_interface(tmp_path, make):
    with pytest.raises(rapl.RaplUnavailable, match=r"^no RAPL interface$"):
        rapl.find_zones(make(tmp_path))


def test_no_package_or_dram(tmp_path):
    make_zone(tmp_path, "intel-rapl:0", "psys", 1)
    with pytest.raises(rapl.RaplUnavailable, match="no package or dram zone"):
        rapl.find_zones(tmp_path)


def test_permission_denied(tmp_path, monkeypatch):
    server_tree(tmp_path)
    real = os.open

    def open_(path, *args, **kwargs):
        if Path(path).name == "energy_uj":  # root-only since Linux 5.10 (CVE-2020-8694)
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(rapl.os, "open", open_)
    with pytest.raises(rapl.RaplUnavailable, match=r"^RAPL permission denied$"):
        rapl.find_zones(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_permission_denied_by_mode(tmp_path):
    (server_tree(tmp_path) / "intel-rapl:0" / "energy_uj").chmod(0)
    with pytest.raises(rapl.RaplUnavailable, match="permission denied"):
        rapl.find_zones(tmp_path)


@pytest.mark.parametrize(
    "file, content, why",
    [
        ("energy_uj", "n/a", "'n/a' is not a whole number of microjoules"),
        ("energy_uj", "", "'' is not a whole number of microjoules"),
        ("energy_uj", "-3", "'-3' is not a whole number of microjoules"),
        ("max_energy_range_uj", "0", "'0' is not a whole number of microjoules above 0"),
        ("max_energy_range_uj", "1e9", "'1e9' is not a whole number of microjoules above 0"),
        ("energy_uj", "fifo", "not a regular file"),
        ("name", "folder", "not a regular file"),
        ("max_energy_range_uj", "link to /dev/zero", "not a regular file"),
    ],
)
def test_a_garbage_counter_file_is_one_reason_naming_it(tmp_path, file, content, why):
    """Before, the reason named no file ('invalid literal for int() with base 10: ...'), a range of 0 or below was
    taken (a counter going back then gave negative energy), and a FIFO in a counter's place hung the run."""
    path = server_tree(tmp_path) / "intel-rapl:0:2" / file
    path.unlink()
    if content == "fifo":
        os.mkfifo(path)
    elif content == "folder":
        path.mkdir()
    elif content.startswith("link"):
        path.symlink_to("/dev/zero")
    else:
        path.write_text(content + "\n")
    with pytest.raises(rapl.RaplUnavailable) as refused:
        rapl.find_zones(tmp_path)
    assert str(refused.value) == f"RAPL unreadable ({path}: {why})"


@pytest.mark.parametrize(
    "folder, content, why",
    [
        ("intel-rapl:0", b"package-0\xff\xfe\n", r"b'package-0\xff\xfe' is not UTF-8 text"),
        ("intel-rapl:0:2", b"\xffdram\n", r"b'\xffdram' is not UTF-8 text"),
        ("intel-rapl:1", b"psys\xc3\n", r"b'psys\xc3' is not UTF-8 text"),  # a character cut short
        ("intel-rapl:0", b"package-0\x1b[2J\n", r"'package-0\x1b[2J' is not printable text"),
        ("intel-rapl:0", b"package-0\x00\n", r"'package-0\x00' is not printable text"),
    ],
)
def test_a_zone_name_that_is_not_printable_text_is_unreadable_naming_the_file(tmp_path, folder, content, why):
    """Before, bytes that are not UTF-8 after 'package-0' were read as replacement characters: the zone was summed
    under the label 'package-0\ufffd\ufffd' (and a control character went into the records as it was). What the
    zone is cannot be told from such a name, so RAPL is unreadable, as for any counter file that cannot be read."""
    path = server_tree(tmp_path) / folder / "name"
    path.write_bytes(content)
    with pytest.raises(rapl.RaplUnavailable) as refused:
        rapl.find_zones(tmp_path)
    assert str(refused.value) == f"RAPL unreadable ({path}: {why})"


def test_a_name_cut_inside_a_character_at_the_64th_byte_is_read(tmp_path):
    """Only 64 bytes of a file are read: a long name whose 64th byte falls inside a character is not called
    undecodable (that zone is neither a package nor dram, and the others are found)."""
    path = server_tree(tmp_path) / "intel-rapl:1" / "name"
    path.write_bytes(("p" * 63 + "é" * 4 + "\n").encode())
    assert [z.label for z in rapl.find_zones(tmp_path)] == ["package-0", "dram-0"]


def test_a_rapl_root_from_the_environment_with_no_interface_is_named(tmp_path, monkeypatch):
    (tmp_path / "afile").write_text("")
    monkeypatch.setenv(rapl.ROOT_ENV, str(tmp_path / "afile"))
    with pytest.raises(rapl.RaplUnavailable, match=rf"^no RAPL interface in \$BENCH_RAPL_ROOT {tmp_path}/afile$"):
        rapl.find_zones()


def test_unlistable_root(tmp_path, monkeypatch):
    def glob(self, pattern):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "glob", glob)
    with pytest.raises(rapl.RaplUnavailable, match=r"RAPL unreadable \(Permission denied\)"):
        rapl.find_zones(tmp_path)


def test_delta_wraps_once():
    assert rapl.delta_uj(100, 250, RANGE_UJ) == 150
    assert rapl.delta_uj(RANGE_UJ - 10, 5, RANGE_UJ) == 15
    assert rapl.delta_uj(7, 7, RANGE_UJ) == 0


# ----------------------------------------------------------------------------------------------- the pass


def test_cpu_pass_sums_package_and_dram_across_a_wrap(tmp_path):
    root = server_tree(tmp_path, package_uj=RANGE_UJ - 1_500_000)  # wraps after the second call
    package, dram = root / "intel-rapl:0", root / "intel-rapl:0:2"
    call = bumper({package: 1_000_000, dram: 250_000}, {package: RANGE_UJ, dram: 65_712_999_613})
    result = measure_energy(call, "cpu", 4, spec(), rapl_root=root, sample_interval_s=0.005)
    assert set(result) == {*FIELDS, "info"}
    info = result.pop("info")
    calls = len(call.calls)
    assert calls >= 3 and info["energy_calls"] == calls
    assert result["energy_source"] == "rapl"
    assert result["energy_j_per_batch"] == pytest.approx(1.25)
    assert result["energy_j_per_item"] == pytest.approx(1.25 / 4)
    assert info["energy_rapl_zones"] == "package-0+dram-0"
    assert info["energy_rapl_j"] == pytest.approx({"package-0": calls * 1.0, "dram-0": calls * 0.25})
    assert result["energy_window_s"] >= 0.05
    assert result["power_w_avg"] == pytest.approx(info["energy_total_j"] / result["energy_window_s"])
    assert result["power_w_peak"] >= result["power_w_avg"] * 0.5
    assert all(result[k] is None for k in ("gpu_util_pct", "gpu_mem_used_mb", "sm_clock_mhz", "gpu_temp_c"))


def test_a_counter_that_never_moves_is_no_measurement_not_zero_joules(tmp_path):
    """Was: a frozen (or emulated) RAPL counter gave energy_j_per_item 0.0 and power_w_avg 0.0 as measured figures,
    and the report a carbon and electricity cost of 0: "nothing is ever filled with a made-up zero"."""
    root = server_tree(tmp_path)
    calls = []
    result = measure_energy(lambda: calls.append(time.sleep(0.001)), "cpu", 4, spec(), rapl_root=root)
    assert calls and all(result[k] is None for k in ("energy_j_per_item", "energy_j_per_batch", "power_w_avg"))
    assert result["energy_source"].startswith("unavailable: the RAPL counters (package-0+dram-0) did not move in a")
    assert result["energy_source"].endswith("a frozen or emulated counter, no measurement")


def test_cpu_pass_peak_falls_back_to_average_without_full_intervals(tmp_path):
    root = server_tree(tmp_path)
    call = bumper({root / "intel-rapl:0": 2_000_000}, {root / "intel-rapl:0": RANGE_UJ})
    result = measure_energy(call, "cpu", 1, spec(energy_min_s=0.0), rapl_root=root, sample_interval_s=60.0)
    assert result["energy_j_per_batch"] == pytest.approx(2.0)
    assert result["power_w_peak"] == result["power_w_avg"]


def test_cpu_pass_without_rapl_costs_nothing(tmp_path, caplog):
    calls = []
    caplog.set_level("INFO", logger="bench.measure.energy")
    for _ in range(2):
        result = measure_energy(lambda: calls.append(1), "cpu", 8, MeasureSpec(), rapl_root=tmp_path / "none")
    assert calls == []  # no 3-second spin when nothing can be read
    assert result.pop("info") == {}
    assert result.pop("energy_source") == "unavailable: no RAPL interface"
    assert set(result.values()) == {None}  # never a silent zero
    assert caplog.text.count("CPU energy not measured: no RAPL interface") == 1  # reported once


def test_energy_off(tmp_path):
    calls = []
    result = measure_energy(lambda: calls.append(1), "cpu", 1, spec(energy=False), rapl_root=server_tree(tmp_path))
    assert calls == []
    assert result["energy_source"] == "off: measure.energy is false"
    assert result["energy_j_per_item"] is None


def test_counter_vanishing_at_window_end(tmp_path):
    root = server_tree(tmp_path)

    def call() -> None:
        (root / "intel-rapl:0" / "energy_uj").unlink(missing_ok=True)

    result = measure_energy(call, "cpu", 1, spec(energy_min_s=0.0), rapl_root=root, sample_interval_s=None)
    assert result["energy_source"].startswith("unavailable: RAPL read failed during the energy window")
    assert result["energy_j_per_item"] is None


def test_counter_unreadable_inside_window(tmp_path):
    root = server_tree(tmp_path)
    counter = root / "intel-rapl:0" / "energy_uj"

    def call() -> None:  # gone long enough for the sampler thread to notice, back before the last read
        counter.rename(counter.with_suffix(".away"))
        time.sleep(0.05)
        counter.with_suffix(".away").rename(counter)

    result = measure_energy(call, "cpu", 1, spec(energy_min_s=0.0), rapl_root=root, sample_interval_s=0.002)
    assert result["energy_source"].startswith("unavailable: RAPL read failed during the energy window")


# ----------------------------------------------------------------------------------------------- estimate


def busy(seconds: float = 0.002) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_tdp_estimate_is_opt_in_and_labelled(tmp_path):
    result = measure_energy(busy, "cpu", 2, spec(cpu_tdp_w=100.0), rapl_root=tmp_path / "none")
    info = result.pop("info")
    assert result["energy_source"] == "estimate-tdp"
    assert "no meter: no RAPL interface" in info["energy_note"]
    assert 0 < info["energy_cpu_share"] <= 1
    assert result["power_w_avg"] == pytest.approx(100.0 * info["energy_cpu_share"])
    assert result["energy_j_per_item"] == pytest.approx(result["energy_j_per_batch"] / 2)
    assert result["power_w_peak"] is None


def test_tdp_estimate_not_used_when_rapl_reads(tmp_path):
    root = server_tree(tmp_path)
    call = bumper({root / "intel-rapl:0": 10}, {root / "intel-rapl:0": RANGE_UJ})
    result = measure_energy(call, "cpu", 1, spec(cpu_tdp_w=100.0), rapl_root=root)
    assert result["energy_source"] == "rapl"


def test_tdp_estimate_with_a_frozen_clock():
    result = energy.estimate_tdp(lambda: None, 1, spec(energy_min_s=0.0, cpu_tdp_w=50.0), lambda: 1.0, reason="x")
    assert result["energy_j_per_batch"] == 0.0
    assert result["power_w_avg"] is None

"""CPU pressure from Linux PSI (shared.pressure): what background work reads to step aside."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.pressure import PSI_FILES, PressureGauge, cpu_stall_us

PSI = (
    "some avg10=1.74 avg60=10.40 avg300=9.13 total=50876584\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
)


def test_the_stall_total_is_read_from_the_first_psi_file_there_is(tmp_path: Path) -> None:
    cgroup, machine = tmp_path / "cpu.pressure", tmp_path / "cpu"
    machine.write_text(PSI)
    assert cpu_stall_us((cgroup, machine)) == 50_876_584
    cgroup.write_text(PSI.replace("total=50876584", "total=12"))
    assert cpu_stall_us((cgroup, machine)) == 12
    assert cpu_stall_us((tmp_path / "none", tmp_path / "neither")) is None


def test_the_gauge_gives_the_share_of_time_stalled_between_start_and_share() -> None:
    readings = iter([1_000_000, 1_250_000, 5_000_000])
    moments = iter([10.0, 10.5, 12.5])
    gauge = PressureGauge(lambda: next(readings), lambda: next(moments))
    assert gauge.share() is None  # not started
    gauge.start()
    assert gauge.share() == pytest.approx(0.5)  # 0.25 s stalled over 0.5 s
    # Several tasks waiting at once count once ("some"), but a reading can run ahead of the clock: capped.
    assert gauge.share() == 1.0


def test_without_psi_the_pressure_is_unknown() -> None:
    gauge = PressureGauge(lambda: None)
    gauge.start()
    assert gauge.share() is None


def test_this_machine_reports_a_pressure_when_it_has_psi() -> None:
    """On Linux with PSI (this machine and CI) the real files parse; elsewhere the gauge says unknown."""
    gauge = PressureGauge()
    gauge.start()
    share = gauge.share()
    if any(path.exists() for path in PSI_FILES):
        assert share is not None
        assert 0.0 <= share <= 1.0
    else:
        assert share is None

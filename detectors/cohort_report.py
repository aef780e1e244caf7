"""Cohort findings as anomalies: subject, affected devices, dominant code and a sentence for a technician.

Both cohort tests (devices with a fault, `detectors.cohort_rate`; pooled
fault counts, `detectors.cohort_pooled`) report under one detector name and
the same subject, so one cohort incident is one alert key and one ticket.
"""

from __future__ import annotations

from typing import Mapping

from detectors.anomaly import COHORT_FAULT_RATE, Anomaly
from detectors.attribution import label, shared_key
from detectors.cohort_pooled import PooledFinding
from detectors.cohort_rate import CohortFinding
from detectors.fleet import DeviceState

DETECTOR = COHORT_FAULT_RATE


def _anomaly(devices: Mapping[str, DeviceState], affected: list[str], f, end_ms: int, window_ms: int,
             score: float, observed: float, expected: float, text: str) -> Anomaly:
    codes = [devices[d].code_if_closed() for d in affected]
    codes = [c for c in codes if c]
    code = max(sorted(set(codes)), key=codes.count) if codes else ""
    subject_key = shared_key(c for c in f.cells)
    return Anomaly(DETECTOR, "cohort", label(subject_key), code, end_ms, end_ms - f.horizon * window_ms, score,
                   observed, expected, f.threshold, f.horizon * window_ms / 1000, text, attribution=label(f.key),
                   devices=tuple(affected), model=subject_key[0] or "", firmware=subject_key[1] or "",
                   site=subject_key[2] or "")


def devices_anomaly(devices: Mapping[str, DeviceState], f: CohortFinding, w: int, end_ms: int, window_ms: int,
                    partial: bool = False) -> Anomaly:
    """A devices-with-a-fault finding (``partial``: at a look, faults of open windows count)."""
    affected = sorted(d for d, st in devices.items()
                      if st.cell in f.cells and (st.last_fault_w > w - f.horizon or partial and st.pending))
    hours = f.horizon * window_ms / 3_600_000
    text = (f"{f.faulty} of {f.active} active devices of {label(f.key)} had faults in the last {hours:g} h "
            f"({f.faulty / f.active:.0%}), expected {f.expected:.1%}; the excess follows {label(f.key)}")
    return _anomaly(devices, affected, f, end_ms, window_ms, f.score, f.faulty / f.active, f.expected, text)


def pooled_anomaly(devices: Mapping[str, DeviceState], f: PooledFinding, w: int, end_ms: int,
                   window_ms: int) -> Anomaly:
    """A pooled-count finding: faults against time at risk."""
    first = w - f.horizon + 1
    affected = sorted(d for d, st in devices.items() if st.cell in f.cells
                      and (st.pending or any(fw >= first for fw, _ in st.fault_windows)))
    hours = f.exposure_windows * window_ms / 3_600_000
    text = (f"{f.faults} faults on {f.faulty} of {f.devices} devices of {label(f.key)} in {hours:,.0f} "
            f"device-hours since they joined it (at most {f.horizon * window_ms / 3_600_000:g} h back), "
            f"expected {f.expected:.2g} at the rate of the same model's other devices; "
            f"the excess follows {label(f.key)}")
    return _anomaly(devices, affected, f, end_ms, window_ms, f.score, float(f.faults), f.expected, text)

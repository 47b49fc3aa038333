"""NVML access through ``nvidia-ml-py`` (the ``pynvml`` module), detected once and never fatal.

:func:`backend` initialises NVML once per process and returns ``(module, None)`` or ``(None, reason)``; a machine
without the package, the driver or a GPU just gets the reason (shown in ``energy_source``). Tests swap in
:class:`tests.fakes.nvml.FakeNvml`, which has the same functions, with :func:`use_backend`.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from typing import Any

_override: list[Any] = []


@functools.lru_cache(maxsize=1)
def _load() -> tuple[Any, str | None]:
    try:
        import pynvml
    except ImportError:
        return None, "pynvml (nvidia-ml-py) not installed"
    return _init(pynvml)


def _init(module: Any) -> tuple[Any, str | None]:
    try:
        module.nvmlInit()
    except Exception as err:  # any NVML failure means "no NVML here"; the reason is reported, never raised
        return None, init_failure_reason(module, err)
    return module, None


def init_failure_reason(module: Any, err: BaseException) -> str:
    """A short reason for a failed ``nvmlInit``: no library, no driver, no permission, or NVML's own message."""
    reasons = {
        "NVMLError_LibraryNotFound": "NVML library not found (no NVIDIA driver installed)",
        "NVMLError_DriverNotLoaded": "NVIDIA driver not loaded",
        "NVMLError_NoPermission": "NVML permission denied",
        "NVMLError_LibRmVersionMismatch": "NVML/driver version mismatch (reload the driver)",
    }
    for name, reason in reasons.items():
        cls = getattr(module, name, None)
        if isinstance(cls, type) and isinstance(err, cls):
            return reason
    return f"NVML init failed ({type(err).__name__}: {err})"


def backend() -> tuple[Any, str | None]:
    """The initialised NVML module and ``None``, or ``None`` and why NVML is unusable. Detected once per process."""
    if _override:
        return _override[-1]
    return _load()


@contextlib.contextmanager
def use_backend(module: Any) -> Iterator[None]:
    """Use ``module`` (e.g. a :class:`~tests.fakes.nvml.FakeNvml`) instead of ``pynvml`` inside the block.

    ``nvmlInit`` is called on entry, as for the real library; an init failure gives the same reasons.
    """
    _override.append(_init(module))
    try:
        yield
    finally:
        _override.pop()


def driver_version() -> str | None:
    """The NVIDIA driver version NVML reports, or ``None`` without NVML."""
    nvml, _ = backend()
    if nvml is None:
        return None
    version = nvml.nvmlSystemGetDriverVersion()
    return version.decode() if isinstance(version, bytes) else str(version)


def device_handle(nvml: Any, device: str) -> Any:
    """The NVML handle of torch's ``cuda:K``.

    CUDA numbers the devices this process sees (``CUDA_VISIBLE_DEVICES``, fastest first by default) while NVML
    numbers every GPU in PCI order, so ``K`` is not NVML's index in general. In order of preference:

    1. the PCI bus id torch reports for ``cuda:K`` (``torch.cuda.get_device_properties``);
    2. the ``K``-th entry of ``CUDA_VISIBLE_DEVICES`` (an NVML index, or a ``GPU-``/``MIG-`` UUID);
    3. NVML index ``K``.

    Raises the NVML error of the last attempt when no handle can be found.
    """
    index = int(device.split(":", 1)[1]) if ":" in device else 0
    bus_id = _torch_pci_bus_id(index)
    if bus_id is not None:
        with contextlib.suppress(nvml.NVMLError):
            return nvml.nvmlDeviceGetHandleByPciBusId(bus_id)
    visible = [entry.strip() for entry in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if entry.strip()]
    if index < len(visible):
        entry = visible[index]
        if entry.isdigit():
            return nvml.nvmlDeviceGetHandleByIndex(int(entry))
        if entry.startswith(("GPU-", "MIG-")):
            return nvml.nvmlDeviceGetHandleByUUID(entry)
    return nvml.nvmlDeviceGetHandleByIndex(index)


def board_of(nvml: Any, handle: Any) -> tuple[Any, bool]:
    """The handle of the board whose energy and power NVML reports for ``handle``, and whether the case's device is
    a MIG slice of it.

    NVML reads energy and power per board, never per MIG slice. A slice is found either as a MIG device handle (a
    ``MIG-`` UUID in ``CUDA_VISIBLE_DEVICES``: its board is ``nvmlDeviceGetDeviceHandleFromMigDeviceHandle``) or as
    a board whose current MIG mode is on (``nvmlDeviceGetMigMode``: torch's PCI bus id of a slice is its board's,
    and CUDA sees only slices of such a board). Boards without MIG (pre-Ampere: ``NotSupported``) are not slices.
    """
    try:
        is_mig = nvml.nvmlDeviceIsMigDeviceHandle(handle)
        if getattr(is_mig, "value", is_mig):  # pynvml returns the ctypes value itself
            return nvml.nvmlDeviceGetDeviceHandleFromMigDeviceHandle(handle), True
    except (AttributeError, nvml.NVMLError):  # an older library or driver without MIG
        pass
    try:
        current, _pending = nvml.nvmlDeviceGetMigMode(handle)
    except (AttributeError, nvml.NVMLError):
        return handle, False
    return handle, current == nvml.NVML_DEVICE_MIG_ENABLE


def _torch_pci_bus_id(index: int) -> str | None:
    """``cuda:index``'s PCI bus id in NVML's format (``00000000:3b:00.0``), or ``None`` when torch cannot tell."""
    try:
        import torch

        if not torch.cuda.is_available():
            return None
        props = torch.cuda.get_device_properties(index)
        domain, bus, dev = props.pci_domain_id, props.pci_bus_id, props.pci_device_id
    except Exception:  # older torch without the fields, or a broken CUDA: fall back to the environment
        return None
    return f"{domain:08x}:{bus:02x}:{dev:02x}.0"

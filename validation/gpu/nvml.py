"""GPU memory as NVML reports it, without torch: pynvml where importable, else nvidia-smi.

NVML's figures include what PyTorch never sees: the CUDA context, the kernels loaded into it,
library handles.  ``measure.py`` reads them before and after creating the context and at the
end of every phase (``workload.CudaMeter``).
"""
from __future__ import annotations

import contextlib
import shutil
import subprocess

MiB = 2 ** 20


class Nvml:
    """Device memory for GPU ``index``, through the first of ``prefer`` that works: ``pynvml``
    (nvidia-ml-py, what ``torch.cuda.device_memory_used`` uses) or ``nvidia-smi --query``
    (MiB resolution).  ``kind`` names the one in use, None when neither is there."""

    def __init__(self, index=0, prefer=("pynvml", "nvidia-smi")):
        self.index = index
        self.kind = None
        for kind in prefer:
            if kind == "pynvml":
                try:
                    import pynvml

                    pynvml.nvmlInit()
                    self.h = pynvml.nvmlDeviceGetHandleByIndex(index)
                    self.nv = pynvml
                    self.kind = "pynvml"
                    return
                except Exception:  # noqa: BLE001 - no pynvml, or no driver
                    continue
            if kind == "nvidia-smi" and shutil.which("nvidia-smi"):
                self.kind = "nvidia-smi"
                return

    def _smi(self, *args):
        try:
            out = subprocess.run(["nvidia-smi", *args, "--format=csv,noheader,nounits"], capture_output=True,
                                 text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            return []
        if out.returncode != 0:
            return []
        return [[x.strip() for x in line.split(",")] for line in out.stdout.strip().splitlines() if line.strip()]

    @staticmethod
    def _mib(text):
        try:
            return int(float(text) * MiB)
        except ValueError:  # "[N/A]", "[Not Supported]"
            return None

    def device_used(self):
        """Bytes used on the device (all processes and the driver's own), or None."""
        if self.kind == "pynvml":
            return int(self.nv.nvmlDeviceGetMemoryInfo(self.h).used)
        if self.kind == "nvidia-smi":
            rows = self._smi("--query-gpu=memory.used", "-i", str(self.index))
            return self._mib(rows[0][0]) if rows else None
        return None

    def process_used(self, pid):
        """Bytes NVML attributes to process ``pid``, or None where it cannot see processes
        (a container's PID namespace hides them, or the driver reports N/A)."""
        if self.kind == "pynvml":
            try:
                for p in self.nv.nvmlDeviceGetComputeRunningProcesses(self.h):
                    if p.pid == pid and p.usedGpuMemory is not None:
                        return int(p.usedGpuMemory)
            except Exception:  # noqa: BLE001
                return None
            return None
        if self.kind == "nvidia-smi":
            for row in self._smi("--query-compute-apps=pid,used_memory", "-i", str(self.index)):
                if len(row) == 2 and row[0] == str(pid):
                    return self._mib(row[1])
        return None

    def describe(self):
        """{nvml_via, driver, nvml_total, nvml_name} as far as known."""
        d = {"nvml_via": self.kind}
        if self.kind == "pynvml":
            with contextlib.suppress(Exception):
                v = self.nv.nvmlSystemGetDriverVersion()
                d["driver"] = v.decode() if isinstance(v, bytes) else v
                d["nvml_total"] = int(self.nv.nvmlDeviceGetMemoryInfo(self.h).total)
        elif self.kind == "nvidia-smi":
            rows = self._smi("--query-gpu=driver_version,memory.total,name", "-i", str(self.index))
            if rows and len(rows[0]) >= 3:
                d["driver"] = rows[0][0]
                d["nvml_total"] = self._mib(rows[0][1])
                d["nvml_name"] = rows[0][2]
        return d

"""Choosing the CPU thread count.

On an idle 2-core machine 2 threads train ~1.8x faster than 1, but when another process already
holds a core, PyTorch's OpenMP threads contend with it and collapse (training ~3x and batch-1
generation up to ~100x slower than 1 thread). So we use the cores that are free, never more.
"""

from __future__ import annotations

import os
import shutil


def free_cores() -> int:
    """Cores this process may use minus the load other processes put on them (1-minute average)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    try:
        busy = int(os.getloadavg()[0] + 0.5)
    except (AttributeError, OSError):
        busy = 0
    return max(1, min(cores, cores - busy))


def set_threads(n: int = 0) -> int:
    """Use n threads; 0 = $OMP_NUM_THREADS if the user set it, else the free cores."""
    import torch

    if n <= 0:
        env = os.environ.get("OMP_NUM_THREADS", "")
        n = int(env) if env.isdigit() and int(env) > 0 else free_cores()
    torch.set_num_threads(n)
    return n


def has_amx(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether the CPU multiplies bf16 matrices in AMX tiles (Sapphire Rapids and later), where bf16
    autocast trains ~1.5x faster than fp32. Without AMX (avx512_bf16 only) bf16 is slower than fp32."""
    try:
        with open(cpuinfo) as f:
            return any(line.startswith("flags") and " amx_bf16" in line for line in f)
    except OSError:
        return False


def use_bf16(choice: str) -> bool:
    """--bf16 auto|on|off: auto means on exactly where the CPU has AMX."""
    return choice == "on" or (choice == "auto" and has_amx())


def has_cxx_compiler() -> bool:
    """torch.compile's inductor backend builds C++ on CPU: without a compiler it cannot run."""
    return any(shutil.which(c) for c in ("g++", "c++", "cc"))


def available_memory(meminfo: str = "/proc/meminfo") -> int | None:
    """Bytes of memory a new allocation can get without swapping (MemAvailable); None if unknown."""
    try:
        with open(meminfo) as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_memory(n_params: int, bytes_per_param: int, what: str, hint: str, meminfo: str = "/proc/meminfo") -> None:
    """Refuse, before allocating, a model whose weights (and, training, gradients and optimizer
    moments: `bytes_per_param`) cannot fit in the memory that is free: one line instead of an
    out-of-memory kill minutes later."""
    from .errors import TcatError

    free = available_memory(meminfo)
    need = n_params * bytes_per_param
    if free is not None and need > free:
        raise TcatError(
            f"{what} needs about {need / 2**30:,.1f} GiB ({n_params:,} parameters x {bytes_per_param} "
            f"bytes) but {free / 2**30:,.1f} GiB of memory is free; {hint}"
        )

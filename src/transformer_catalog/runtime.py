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
    """Whether the CPU multiplies bf16 matrices in AMX tiles (Sapphire Rapids and later). Only a
    fact to report: bf16 pays on some avx512_bf16 CPUs without AMX too (bf16_matmul_pays measures)."""
    try:
        with open(cpuinfo) as f:
            return any(line.startswith("flags") and " amx_bf16" in line for line in f)
    except OSError:
        return False


def bf16_matmul_pays(rows: int = 1024, d_in: int = 768, d_out: int = 3072, margin: float = 1.25) -> bool:
    """Whether a (rows x d_in) @ (d_in x d_out) matmul, a training step's typical one, runs at least
    `margin` times faster in bf16 than in fp32 here: the best of 5 timings each after a warm-up (the
    best, so another process's time slice does not decide). AMX and avx512_bf16 CPUs measure 1.5-3x
    at GPT sizes; a CPU that emulates bf16, or matmuls too small to amortise the conversion, do not."""
    import time

    import torch

    x, w = torch.randn(rows, d_in), torch.randn(d_in, d_out)
    best = {}
    for dtype in (torch.float32, torch.bfloat16):
        a, b = x.to(dtype), w.to(dtype)
        a @ b
        times = []
        for _ in range(5):
            t = time.perf_counter()
            a @ b
            times.append(time.perf_counter() - t)
        best[dtype] = min(times)
    return best[torch.bfloat16] * margin <= best[torch.float32]


# auto keeps fp32 for models whose matmuls are smaller than this (FLOPs of the probe): their steps
# are dominated by other work, a timing of microseconds is noise, and fp32 is exact
AUTO_BF16_MIN_FLOPS = 1e9


def use_bf16(choice: str, probe: tuple[int, int, int] | None = None) -> bool:
    """--bf16 auto|on|off: auto means on where bf16 measures faster here, timed on the run's own
    matmul shape (`probe`: tokens per micro-batch, width in, width out), not read off a CPU flag."""
    if choice != "auto":
        return choice == "on"
    if probe is None:
        return bf16_matmul_pays()
    rows, d_in, d_out = probe
    return 2 * rows * d_in * d_out >= AUTO_BF16_MIN_FLOPS and bf16_matmul_pays(rows, d_in, d_out)


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

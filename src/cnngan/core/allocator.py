"""Keep freed memory in the process for reuse (glibc's malloc), so a CPU training step does not
pay page faults for its activations at every step.

Why: PyTorch's CPU tensors come from the C library's `malloc`. glibc returns freed memory to the
OS (blocks above its mmap threshold are unmapped when freed; free memory at the top of the heap
is trimmed), and the next step's activations of the same size then fault fresh, zeroed pages in
again. On a 2-core AMD EPYC this cost the default classifier 260 to 5,700 minor page faults and
up to 11 ms of kernel time per 20-48 ms step, varying from process to process, and more for
cnngan's fit than for a plain loop in the same process (docs/speed.md). Raising the mmap threshold
to glibc's maximum and the trim threshold far above any step's footprint keeps that memory
mapped: after the first steps there are almost no faults. The cost is that the process keeps its
peak footprint instead of handing freed memory back, which a training run reaches anyway.

The same is done for a whole process by `GLIBC_TUNABLES=glibc.malloc.trim_threshold=...:
glibc.malloc.mmap_threshold=...`, or by preloading jemalloc or tcmalloc (PyTorch's CPU
performance guides); this module does it from inside, so `cnngan-train` gets it everywhere.
On a C library other than glibc (macOS, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

# mallopt parameter numbers (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # glibc's largest (HEAP_MAX_SIZE / 2 on 64-bit)
TRIM_THRESHOLD = 1024 * 1024 * 1024  # free memory at the heap's top kept up to 1 GiB


def keep_freed_memory() -> bool:
    """Set glibc's malloc to keep freed memory (see the module's docstring). True where it was
    set; False on another C library or where glibc refused a value."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return False
    mallopt = libc.mallopt
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # mallopt returns 1 on success; a fixed mmap threshold also ends glibc's dynamic one
    return bool(
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX) and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )

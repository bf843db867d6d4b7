"""Profiling of native kernels and Python-side ops.

    with gradcore.profiler.profile() as prof:
        train_step()
    print(prof.table(sort_by="total", top=20))
    prof.export_chrome_trace("trace.json")   # open in Perfetto or chrome://tracing

Native kernels record themselves (name, shapes, start, duration, thread, FLOPs, bytes)
into per-thread buffers while a profile is active; when none is, a kernel pays one
relaxed atomic load. Python code marks its own spans with `record_function(name)`
(autograd forward/backward, optimizer steps and data loading do this already), so a
trace shows kernels nested under the Python op that called them.

CUDA kernels (gradcore._C_cuda) are timed with CUDA events when the "cuda" device is set
up (the first use of a cuda Tensor, or gradcore.cuda.init()) before the profile starts: each
launch, and each cuBLAS GEMM, is one Event of kind "cuda" (GPU time, with the FLOPs and bytes
of the kernel; `thread` is the stream's id). Nothing waits for the GPU while profiling: the
profile waits once on entry (for the work queued before it) and once on exit (to read the
events). In `table()` they are the rows of kind "cuda" (their "% peak" is left blank: the
peak is the CPU's); in the Chrome trace they lie on their own track, a process "gradcore
CUDA device D" with one thread per stream, "CUDA stream N".

`GRADCORE_PROFILE=path python script.py` profiles a whole script: the table is printed
and the Chrome trace written to `path` when the interpreter exits.
"""

from __future__ import annotations

import json
import os
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

from gradcore import _C

__all__ = [
    "Event",
    "KernelStats",
    "peak_gflops",
    "profile",
    "record_function",
]

# The profile being collected, or None. Hooks in hot Python paths test this one global.
_active: Optional[profile] = None

# Chrome-trace pid of the CUDA track of device D: _CUDA_PID_BASE + D, above Linux's largest
# pid (2**22) so that it never equals the process's own pid.
_CUDA_PID_BASE = 1 << 22


@dataclass
class Event:
    """One recorded span: a native kernel call or a Python op."""

    name: str
    start_ns: int
    dur_ns: int
    thread: int  # the CPU thread's id; for kind "cuda", the stream's id
    kind: str  # "kernel" (native CPU), "python" or "cuda" (a CUDA kernel, GPU time)
    flops: float = 0.0
    bytes: float = 0.0
    shapes: tuple = ()
    device: int = 0  # the CUDA device (kind "cuda")


@dataclass
class KernelStats:
    """Aggregated calls of one op (and one shape when grouped by shape)."""

    name: str
    kind: str
    shapes: tuple = ()
    calls: int = 0
    total_ns: int = 0
    flops: float = 0.0
    bytes: float = 0.0
    durations: list = field(default_factory=list, repr=False)

    @property
    def mean_us(self) -> float:
        return self.total_ns / max(self.calls, 1) / 1e3

    @property
    def gflops(self) -> float:
        """Achieved GFLOP/s (FLOPs per nanosecond)."""
        return self.flops / self.total_ns if self.total_ns else 0.0

    @property
    def gbytes_per_s(self) -> float:
        return self.bytes / self.total_ns if self.total_ns else 0.0

    @property
    def intensity(self) -> float:
        """Arithmetic intensity, FLOPs per byte moved."""
        return self.flops / self.bytes if self.bytes else 0.0


_peak_cache: dict = {}


def peak_gflops(threads: Optional[int] = None) -> float:
    """Estimated fp32 peak GFLOP/s of this machine for `threads` cores.

    FLOPs per cycle per core come from the tuning of the CPU path in use
    (`_C.cpu_path_tuning()["flops_per_cycle_f32"]`, e.g. AVX2+FMA: 2 FMA units x 8 lanes x 2
    = 32), times a measured clock.
    """
    n = threads if threads is not None else _C.get_num_threads()
    n = max(1, min(n, os.cpu_count() or 1))
    per_cycle = _C.cpu_path_tuning()["flops_per_cycle_f32"]
    if "ghz" not in _peak_cache:
        _peak_cache["ghz"] = _C.measure_clock_ghz() or _cpuinfo_ghz()
    return n * per_cycle * _peak_cache["ghz"]


def _cpuinfo_ghz() -> float:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("cpu mhz"):
                    return float(line.split(":")[1]) / 1e3
    except OSError:
        pass
    return 1.0


class record_function:
    """Context manager marking a Python-side span (shown as a parent of its kernels).

    Cheap when no profile is active: one global lookup on entry and exit.
    """

    __slots__ = ("name", "_start")

    def __init__(self, name: str):
        self.name = name
        self._start = 0

    def __enter__(self) -> record_function:
        if _active is not None:
            self._start = _C.profiler_now_ns()
        return self

    def __exit__(self, *exc: Any) -> None:
        prof = _active
        if prof is not None and self._start:
            prof._add_python_span(self.name, self._start, _C.profiler_now_ns())


def _cuda_profiler() -> Any:
    """gradcore._C_cuda when its kernels are to be profiled: the "cuda" device is set up
    (which implies a visible GPU), so asking the CUDA module costs no failing CUDA call
    where there is none; None otherwise."""
    from gradcore import devices

    if not devices.is_registered("cuda"):
        return None
    from gradcore import cuda

    m = cuda._cuda_module()
    return m if m is not None and hasattr(m, "profiler_start") else None


def _cuda_events(records) -> list:
    """Events of kind "cuda" from the CUDA module's records: tuples (name, start_ns,
    duration_ns, flops, bytes, stream[, device]), start on the profiler's clock."""
    out = []
    for r in records:
        name, start, dur, flops, nbytes, stream = r[:6]
        device = r[6] if len(r) > 6 else 0
        out.append(
            Event(
                str(name),
                int(start),
                int(dur),
                int(stream),
                "cuda",
                float(flops),
                float(nbytes),
                (),
                int(device),
            )
        )
    return out


class profile:
    """Collect native kernel records and Python spans inside a `with` block.

    Args:
        record_shapes: keep the input shapes of each kernel call (for group_by_shape).
        enabled: when False the block runs unprofiled (handy for A/B comparisons).
    """

    def __init__(self, record_shapes: bool = True, enabled: bool = True):
        self.record_shapes = record_shapes
        self.enabled = enabled
        self.events: list[Event] = []
        self.start_ns = 0
        self.end_ns = 0
        self._lock = threading.Lock()
        self._thread_ids: dict[int, int] = {}
        self._cuda: Any = None  # gradcore._C_cuda while it records this profile

    # -- collection -----------------------------------------------------------------
    def __enter__(self) -> profile:
        global _active
        if not self.enabled:
            return self
        if _active is not None:
            raise RuntimeError("profile: another profile is already active (profiles do not nest)")
        _C.profiler_take_records()  # drop anything recorded outside a profile
        self.events = []
        self._cuda = None
        m = _cuda_profiler()
        if m is not None:
            try:
                if m.profiler_start():  # waits once for the work queued before the profile
                    self._cuda = m
            except RuntimeError as e:  # a CUDA error left by earlier work
                warnings.warn(f"profile: CUDA kernels not recorded: {e}", RuntimeWarning, 2)
        _active = self
        self.start_ns = _C.profiler_now_ns()
        _C.profiler_set_enabled(True)
        return self

    def __exit__(self, *exc: Any) -> None:
        global _active
        if not self.enabled:
            return
        _C.profiler_set_enabled(False)
        m, self._cuda = self._cuda, None
        if m is not None:
            m.profiler_stop()
        self.end_ns = _C.profiler_now_ns()
        _active = None
        for name, start, dur, thread, flops, nbytes, shapes in _C.profiler_take_records():
            self.events.append(
                Event(
                    name,
                    start,
                    dur,
                    thread,
                    "kernel",
                    flops,
                    nbytes,
                    tuple(shapes) if self.record_shapes else (),
                )
            )
        records: list = []
        if m is not None:
            try:
                records = m.profiler_collect()  # waits for the GPU once
            except RuntimeError as e:  # a kernel faulted: its error surfaces again on next use
                warnings.warn(f"profile: CUDA kernel records lost: {e}", RuntimeWarning, 2)
        self._merge_cuda(records)

    def _merge_cuda(self, records) -> None:
        """Add the CUDA module's kernel records (see `_cuda_events`) to the events and sort
        them all by start; the profile's end extends to the last kernel's end."""
        extra = _cuda_events(records)
        self.events.extend(extra)
        if extra:
            self.end_ns = max(self.end_ns, max(e.start_ns + e.dur_ns for e in extra))
        self.events.sort(key=lambda e: (e.start_ns, -e.dur_ns))

    def _add_python_span(self, name: str, start: int, end: int) -> None:
        ident = threading.get_ident()
        tid = self._thread_ids.get(ident)
        if tid is None:
            tid = self._thread_ids[ident] = _C.profiler_thread_id()
        with self._lock:
            self.events.append(Event(name, start, end - start, tid, "python"))

    @property
    def wall_ns(self) -> int:
        return max(self.end_ns - self.start_ns, 1)

    # -- analysis ---------------------------------------------------------------------
    def key_averages(self, group_by_shape: bool = False, kind: Optional[str] = None) -> list:
        """Rows of KernelStats, one per op name (and shape when group_by_shape)."""
        rows: dict = {}
        for e in self.events:
            if kind is not None and e.kind != kind:
                continue
            key = (e.kind, e.name, e.shapes if group_by_shape else ())
            s = rows.get(key)
            if s is None:
                s = rows[key] = KernelStats(e.name, e.kind, key[2])
            s.calls += 1
            s.total_ns += e.dur_ns
            s.flops += e.flops
            s.bytes += e.bytes
            s.durations.append(e.dur_ns)
        return list(rows.values())

    def table(
        self,
        sort_by: str = "total",
        group_by_shape: bool = False,
        top: Optional[int] = 20,
        kind: Optional[str] = None,
    ) -> str:
        """A text table: calls, total ms, mean us, % of wall time, GFLOP/s, GB/s, % of peak.

        sort_by: "total", "mean", "calls", "gflops" or "name". Convolution rows count the
        direct algorithm's FLOPs whatever algorithm ran: a Winograd layer
        (gradcore.backends.cpu) shows its effective rate, which can pass 100% of the peak.
        """
        keys = {
            "total": lambda s: -s.total_ns,
            "mean": lambda s: -s.mean_us,
            "calls": lambda s: -s.calls,
            "gflops": lambda s: -s.gflops,
            "name": lambda s: s.name,
        }
        if sort_by not in keys:
            raise ValueError(f"table: sort_by must be one of {sorted(keys)}, got {sort_by!r}")
        rows = sorted(self.key_averages(group_by_shape, kind), key=keys[sort_by])
        if top is not None:
            rows = rows[:top]
        peak = peak_gflops()
        wall = self.wall_ns
        head = (
            f"{'name':<34} {'kind':<6} {'calls':>7} {'total ms':>10} {'mean us':>10} "
            f"{'% wall':>7} {'GFLOP/s':>9} {'GB/s':>8} {'% peak':>7}"
        )
        if group_by_shape:
            head += "  shapes"
        lines = [head, "-" * len(head)]
        for s in rows:
            pct_peak = "-" if s.kind == "cuda" else f"{100.0 * s.gflops / peak:.1f}%"
            line = (
                f"{s.name[:34]:<34} {s.kind[:6]:<6} {s.calls:>7} {s.total_ns / 1e6:>10.3f} "
                f"{s.mean_us:>10.1f} {100.0 * s.total_ns / wall:>6.1f}% "
                f"{s.gflops:>9.2f} {s.gbytes_per_s:>8.2f} {pct_peak:>7}"
            )
            if group_by_shape:
                line += "  " + " ".join(str(tuple(x)) for x in s.shapes)
            lines.append(line)
        lines.append(
            f"wall time {wall / 1e6:.3f} ms; peak {peak:.1f} GFLOP/s "
            f"({_C.get_num_threads()} threads, {_C.cpu_capability()})"
        )
        return "\n".join(lines)

    def trace_events(self) -> Iterator[dict]:
        """The events in Chrome Trace Event format (complete 'X' events, microseconds).

        CPU kernels and Python spans: process "gradcore" (this pid), one thread per CPU
        thread. CUDA kernels: process "gradcore CUDA device D" (pid _CUDA_PID_BASE + D),
        one thread per stream, "CUDA stream N" (tid N), shown below the CPU threads.
        """
        pid = os.getpid()
        yield {"ph": "M", "name": "process_name", "pid": pid, "args": {"name": "gradcore"}}
        yield {"ph": "M", "name": "process_sort_index", "pid": pid, "args": {"sort_index": 0}}
        for tid in sorted({e.thread for e in self.events if e.kind != "cuda"}):
            yield {
                "ph": "M",
                "name": "thread_name",
                "pid": pid,
                "tid": tid,
                "args": {"name": f"thread {tid}"},
            }
        cuda_tracks = sorted({(e.device, e.thread) for e in self.events if e.kind == "cuda"})
        for device in sorted({d for d, _ in cuda_tracks}):
            yield {
                "ph": "M",
                "name": "process_name",
                "pid": _CUDA_PID_BASE + device,
                "args": {"name": f"gradcore CUDA device {device}"},
            }
            yield {
                "ph": "M",
                "name": "process_sort_index",
                "pid": _CUDA_PID_BASE + device,
                "args": {"sort_index": 1 + device},
            }
        for device, stream in cuda_tracks:
            yield {
                "ph": "M",
                "name": "thread_name",
                "pid": _CUDA_PID_BASE + device,
                "tid": stream,
                "args": {"name": f"CUDA stream {stream}"},
            }
        for e in self.events:
            args: dict = {}
            if e.kind in ("kernel", "cuda"):
                args = {"flops": e.flops, "bytes": e.bytes}
                if e.shapes:
                    args["shapes"] = [list(s) for s in e.shapes]
            yield {
                "name": e.name,
                "cat": e.kind,
                "ph": "X",
                "ts": (e.start_ns - self.start_ns) / 1e3,
                "dur": e.dur_ns / 1e3,
                "pid": _CUDA_PID_BASE + e.device if e.kind == "cuda" else pid,
                "tid": e.thread,
                "args": args,
            }

    def export_chrome_trace(self, path: str) -> None:
        """Write a Trace Event JSON file that Perfetto and chrome://tracing open.

        The file is written to a temporary file next to `path` and renamed over it, so a
        reader never sees half a trace; on any error the temporary file is removed. A `path`
        that is a directory raises IsADirectoryError, a missing directory FileNotFoundError.
        """
        path = os.fspath(path)
        if os.path.isdir(path):
            raise IsADirectoryError(f"export_chrome_trace: {path!r} is a directory, not a file")
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise FileNotFoundError(f"export_chrome_trace: directory {directory!r} does not exist")
        payload = {"traceEvents": list(self.trace_events()), "displayTimeUnit": "ms"}
        # hidden, per writer (process and thread); created with the umask's permissions
        tmp = os.path.join(
            directory, f".{os.path.basename(path)}.{os.getpid()}.{threading.get_ident()}.tmp"
        )
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(payload, f)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise


def _profile_whole_run(path: str) -> None:
    """Start a profile for the whole process (GRADCORE_PROFILE); report it at exit."""
    import atexit
    import sys

    prof = profile()
    prof.__enter__()

    def finish() -> None:
        prof.__exit__(None, None, None)
        prof.export_chrome_trace(path)
        print(prof.table(), file=sys.stderr)
        print(f"gradcore: Chrome trace written to {path}", file=sys.stderr)

    atexit.register(finish)

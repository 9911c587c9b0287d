"""Run the recommendation search on two cores: the parent process and one forked child.

Tasks carry a group; grouped tasks (one accelerator's ladders each) alternate between the two
processes, ungrouped ones (owned hardware, reference systems) stay in the parent. The child inherits
the catalog, the model and the prepared fitters by fork (nothing is pickled on the way in), runs its
share, and pickles back what it placed without the fitters; the parent re-attaches its own and sorts
everything by task order, so the result is identical to a single-process run. Where fork is missing
(Windows), with one core, or when the child fails, the parent runs everything itself.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Sequence

from sizer.recommendation.records import Task
from sizer.recommendation.search import Search
from sizer.schema import Engine, QuantFormat

__all__ = ["default_workers", "run_tasks"]

ENV_VAR = "SIZER_WORKERS"


def default_workers(total_params: int) -> int:
    """2 for large models on a machine with two or more cores and fork; else 1 (SIZER_WORKERS overrides)."""
    value = os.environ.get(ENV_VAR, "")
    if value.strip().isdigit():
        return max(1, min(int(value), 2))
    if not hasattr(os, "fork") or (os.cpu_count() or 1) < 2:
        return 1
    return 2 if total_params >= 100e9 else 1


def run_tasks(search: Search, tasks: Sequence[Task], workers: int, formats: dict[str, QuantFormat],
              engines: dict[str, Engine]) -> None:
    if workers < 2 or not hasattr(os, "fork"):
        search.run(tasks)
        return
    groups = sorted({t.group for t in tasks if t.group >= 0})
    child_groups = set(groups[1::2])
    theirs = [i for i, t in enumerate(tasks) if t.group in child_groups]
    mine = [i for i, t in enumerate(tasks) if t.group not in child_groups]
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: run its share, send it back, leave without running the parent's cleanup
        status = 0
        try:
            os.close(read_fd)
            search.placed.clear()
            search.misses.clear()
            search.n_candidates = search.n_placed = search.n_pruned = 0
            search.run(tasks, theirs)
            payload = pickle.dumps(("ok", search.export()), protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException as exc:  # noqa: BLE001 - anything: the parent redoes the work
            payload = pickle.dumps(("error", repr(exc)))
            status = 1
        try:
            with os.fdopen(write_fd, "wb") as out:
                out.write(payload)
        finally:
            os._exit(status)
    os.close(write_fd)
    search.run(tasks, mine)
    with os.fdopen(read_fd, "rb") as inp:
        data = inp.read()
    os.waitpid(pid, 0)
    try:
        kind, exported = pickle.loads(data)
    except Exception:  # noqa: BLE001 - a truncated pipe: redo the share here
        kind, exported = "error", None
    if kind == "ok":
        search.merge(exported, formats, engines)
    else:
        search.run(tasks, theirs)
        search.placed.sort(key=lambda p: p.order)
        search.misses.sort(key=lambda m: m.order)

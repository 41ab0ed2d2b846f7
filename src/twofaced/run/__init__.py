"""The engine: expand work, execute it with bounded concurrency, store everything in one SQLite file."""

from ._engine import ExecutionResult, execute
from ._plan import RunConfig, expand
from ._runner import RunOutcome, run_scenario, run_scenario_async, show_run
from ._store import DB_NAME, MIGRATIONS, Store, migrate, open_store
from ._summary import Summary, summarize

__all__ = [
    "DB_NAME",
    "MIGRATIONS",
    "ExecutionResult",
    "RunConfig",
    "RunOutcome",
    "Store",
    "Summary",
    "execute",
    "expand",
    "migrate",
    "open_store",
    "run_scenario",
    "run_scenario_async",
    "show_run",
    "summarize",
]

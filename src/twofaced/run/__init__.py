"""The engine: expand work, execute it with bounded concurrency, store everything in one SQLite file."""

from ._compare import compare_runs
from ._dryrun import DryRun, ModelPlan, plan_run
from ._engine import ExecutionResult, execute
from ._export import export_rows, export_run, iter_export
from ._judging import JudgeRunResult, judge_run, judge_run_async
from ._multi import ModelRun, ModelSummary, is_multi, multi_runs, multi_summaries, raise_for_failures, run_models
from ._plan import RunConfig, expand
from ._reading import RunReading, read_run
from ._records import Record, VerdictRow, load_records
from ._runner import RunOutcome, run_scenario, run_scenario_async, show_run
from ._store import DB_NAME, MIGRATIONS, ProbeAnswer, Store, migrate, open_store
from ._summary import Summary, summarize
from ._sweep import SweepSpec, is_sweep, run_sweep, sweep_grid
from ._transcript import Transcript, Turn, item_conversation

__all__ = [
    "DB_NAME",
    "MIGRATIONS",
    "DryRun",
    "ExecutionResult",
    "JudgeRunResult",
    "ModelPlan",
    "ModelRun",
    "ModelSummary",
    "ProbeAnswer",
    "Record",
    "RunConfig",
    "RunOutcome",
    "RunReading",
    "Store",
    "Summary",
    "SweepSpec",
    "Transcript",
    "Turn",
    "VerdictRow",
    "compare_runs",
    "execute",
    "expand",
    "export_rows",
    "export_run",
    "is_multi",
    "is_sweep",
    "item_conversation",
    "iter_export",
    "judge_run",
    "judge_run_async",
    "load_records",
    "migrate",
    "multi_runs",
    "multi_summaries",
    "open_store",
    "plan_run",
    "raise_for_failures",
    "read_run",
    "run_models",
    "run_scenario",
    "run_scenario_async",
    "run_sweep",
    "show_run",
    "summarize",
    "sweep_grid",
]

"""The public API is what ``__all__`` lists. Pin every list, so an addition or removal is a deliberate edit here."""

from __future__ import annotations

import importlib

import pytest

EXPECTED = {
    "twofaced": [
        "GenerationParams",
        "Message",
        "RunConfig",
        "TwofacedError",
        "__version__",
        "get_model",
        "load_scenario",
        "run_scenario",
        "run_scenario_async",
        "show_run",
    ],
    "twofaced.models": [
        "BackendInfo",
        "BackendOption",
        "Completion",
        "GenerationParams",
        "Message",
        "Model",
        "RetryPolicy",
        "Usage",
        "canonical_spec",
        "get_model",
        "list_backends",
        "parse_spec",
        "register_backend",
    ],
    "twofaced.organisms": [
        "CATALOG",
        "Installed",
        "OrganismSpec",
        "Policy",
        "TrainingConfig",
        "find",
        "get_spec",
        "home",
        "load_organism_model",
        "require",
        "status",
    ],
    "twofaced.scenarios": [
        "CONDITIONS",
        "Ablation",
        "CueFamily",
        "CueVariant",
        "LoadedScenario",
        "OutputProtocol",
        "Request",
        "Scenario",
        "Setting",
        "builtin_cue_families",
        "builtin_request_sets",
        "builtin_scenarios",
        "cue_family_names",
        "load_cue",
        "load_request_file",
        "load_scenario",
        "register_cue_family",
        "register_scenario",
        "scenario_names",
        "select_split",
        "with_requests",
    ],
    "twofaced.run": [
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
        "VerdictRow",
        "compare_runs",
        "execute",
        "expand",
        "export_rows",
        "export_run",
        "is_multi",
        "is_sweep",
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
    ],
    "twofaced.awareness": [
        "METHOD_DELONG",
        "METHOD_SCORE",
        "PROBE_VERSION",
        "REFERENCE_AUROC",
        "REFERENCE_SOURCE",
        "REFERENCE_TEXT",
        "AurocEstimate",
        "AwarenessResult",
        "ProbeResult",
        "Transcript",
        "auroc_ci",
        "builtin_transcripts",
        "cue_transcripts",
        "delong",
        "gather_transcripts",
        "hanley_mcneil_variance",
        "load_transcripts",
        "mann_whitney_p",
        "measure_awareness",
        "measure_awareness_async",
        "midranks",
        "newcombe_score_interval",
        "parse_probe_answer",
        "probe_messages",
        "probe_transcripts",
        "select",
        "summarize",
    ],
    "twofaced.interop": [
        "compliance_gap",
        "import_inspect_log",
        "paired",
        "twofaced_compliance",
    ],
    "twofaced.judges": [
        "COMPLIANCE_RULES",
        "COMPLIANCE_RULES_VERSION",
        "ComplianceVerdict",
        "Judge",
        "JudgeInfo",
        "JudgeInput",
        "LabelledRow",
        "ParsedCompletion",
        "Verdict",
        "auroc",
        "calibrate",
        "calibrate_judge",
        "classify",
        "get_judge",
        "judge_info",
        "judge_text",
        "list_judges",
        "load_labels",
        "needs_continuation",
        "parse_completion",
        "parse_mapping",
        "register_judge",
    ],
    "twofaced.report": [
        "FORMATS",
        "build_report_data",
        "write_report",
    ],
    "twofaced.stats": [
        "METHOD_DELONG",
        "METHOD_SCORE",
        "AurocInterval",
        "ClusteredGap",
        "Confusion",
        "GapTest",
        "Interval",
        "PairedGap",
        "Plan",
        "auroc",
        "auroc_interval",
        "clustered_gap",
        "clustered_score_gap",
        "confusion",
        "delong",
        "design_adjusted_gap",
        "difference_of_gaps",
        "format_p",
        "hanley_mcneil_variance",
        "holm",
        "independent_score_gap",
        "mann_whitney_p",
        "mcnemar_exact",
        "midranks",
        "mover_difference",
        "newcombe_auroc_variance",
        "newcombe_difference",
        "newcombe_score_interval",
        "paired_counts",
        "paired_gap",
        "paired_score_gap",
        "plan_sample_size",
        "power_of",
        "wilson",
    ],
    "twofaced.testing": ["StubServer"],
}


@pytest.mark.parametrize("module_name", sorted(EXPECTED))
def test_all_is_pinned(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert list(module.__all__) == EXPECTED[module_name]


@pytest.mark.parametrize("module_name", sorted(EXPECTED))
def test_every_exported_name_exists(module_name: str) -> None:
    module = importlib.import_module(module_name)
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []


def test_version_matches_distribution_metadata() -> None:
    from importlib import metadata

    import twofaced

    assert twofaced.__version__ == metadata.version("twofaced")


def test_top_level_reexports_are_the_package_objects() -> None:
    import twofaced
    from twofaced import models, run, scenarios

    assert twofaced.get_model is models.get_model
    assert twofaced.run_scenario is run.run_scenario
    assert twofaced.load_scenario is scenarios.load_scenario

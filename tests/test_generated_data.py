"""Every generated data file the package ships is what its tool in ``tools/data/`` writes today.

Each tool runs in a subprocess, writing into a temporary directory (``--out-dir``), exactly as a developer runs
it; the result must be byte-identical to the committed file. A failure names the file and the command that
regenerates it. The generators are tools, not package code: no ``make_*.py`` may sit under ``src/``.

The fitted af-offline and tone-offline classifiers are compared field by field instead of byte by byte: their
floats come from float32 torch embeddings and an iterative solver, whose last digits can move with the CPU and
library build, and each records the scikit-learn and embedding-package versions it was fitted with. Everything
else (format, training-data hash, counts, the chosen C, the metrics) must match exactly, the coefficients to 1e-4.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / "tools" / "data"
PACKAGE = ROOT / "src" / "twofaced"

# (tool, the committed file it writes): every generated data file the package ships, and only those.
GENERATED = [
    ("make_af_labelled.py", PACKAGE / "judges" / "data" / "af_labelled.jsonl"),
    ("make_transcripts.py", PACKAGE / "awareness" / "data" / "transcripts.jsonl"),
]
TRAINER = "train_af_offline.py"
MODEL = PACKAGE / "judges" / "data" / "af_offline_model.json"
TONE_TRAINER = "train_tone_offline.py"
REQUEST_HARM_TRAINER = "train_request_harm.py"  # checked by tests/test_request_harm.py
TONE_MODEL = PACKAGE / "judges" / "data" / "tone_offline_model.json"
MACHINE_FIELDS = {"embedding_model", "scikit_learn"}  # the versions of the fitting environment, not the fit
FLOAT_TOLERANCE = 1e-4


def _run(tool: str, out_dir: Path, timeout: float) -> None:
    command = [sys.executable, str(TOOLS / tool), "--out-dir", str(out_dir)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert proc.returncode == 0, f"python tools/data/{tool} failed ({proc.returncode}):\n{proc.stderr[-3000:]}"


def test_every_tool_is_checked_and_no_generator_ships() -> None:
    tools = {p.name for p in TOOLS.glob("*.py") if not p.name.startswith("_")}  # _name.py: a helper the tools share
    assert tools == {tool for tool, _ in GENERATED} | {TRAINER, TONE_TRAINER, REQUEST_HARM_TRAINER}, (
        "a tool in tools/data/ writes a data file this test does not regenerate; add it to GENERATED")
    shipped = sorted(str(p.relative_to(ROOT)) for p in PACKAGE.rglob("make_*.py"))
    assert not shipped, f"generators belong in tools/data/, not in the package: {shipped}"


@pytest.mark.parametrize(("tool", "committed"), GENERATED, ids=[tool for tool, _ in GENERATED])
def test_generated_file_is_up_to_date(tool: str, committed: Path, tmp_path: Path) -> None:
    _run(tool, tmp_path, timeout=120)
    fresh = tmp_path / committed.name
    assert fresh.read_bytes() == committed.read_bytes(), (
        f"{committed.relative_to(ROOT)} differs from what tools/data/{tool} writes; regenerate it with "
        f"`python tools/data/{tool}` and commit the result")


def _differences(fresh: Any, committed: Any, where: str = "") -> list[str]:
    """Where two JSON values differ: floats beyond FLOAT_TOLERANCE, anything else at all."""
    if isinstance(fresh, dict) and isinstance(committed, dict):
        out = [f"{where}.{k}: only in one file" for k in sorted(set(fresh) ^ set(committed))]
        for k in sorted(set(fresh) & set(committed)):
            if k not in MACHINE_FIELDS:
                out += _differences(fresh[k], committed[k], f"{where}.{k}")
        return out
    if isinstance(fresh, list) and isinstance(committed, list):
        if len(fresh) != len(committed):
            return [f"{where}: {len(fresh)} items != {len(committed)}"]
        return [d for i, (a, b) in enumerate(zip(fresh, committed, strict=True))
                for d in _differences(a, b, f"{where}[{i}]")]
    if isinstance(fresh, float) and isinstance(committed, float):
        ok = math.isclose(fresh, committed, rel_tol=FLOAT_TOLERANCE, abs_tol=FLOAT_TOLERANCE)
        return [] if ok else [f"{where}: {fresh} != {committed}"]
    return [] if fresh == committed else [f"{where}: {fresh!r} != {committed!r}"]


def _check_trainer(trainer: str, model: Path, tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    pytest.importorskip("sentence_transformers")
    _run(trainer, tmp_path, timeout=600)
    fresh = json.loads((tmp_path / model.name).read_text(encoding="utf-8"))
    committed = json.loads(model.read_text(encoding="utf-8"))
    differences = _differences(fresh, committed)
    assert not differences, (
        f"{model.relative_to(ROOT)} differs from what tools/data/{trainer} fits ({len(differences)} fields, "
        f"first: {differences[:5]}); retrain with `python tools/data/{trainer}` and commit the result")


def test_af_offline_model_is_what_the_trainer_fits(tmp_path: Path) -> None:
    _check_trainer(TRAINER, MODEL, tmp_path)


def test_tone_offline_model_is_what_the_trainer_fits(tmp_path: Path) -> None:
    _check_trainer(TONE_TRAINER, TONE_MODEL, tmp_path)

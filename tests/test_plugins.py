"""The plugin seam end to end: tests/plugin installed for real, then the CLI in fresh processes.

The plugin is installed with pip, without network or build isolation, into a temporary directory that only the
subprocesses see (``PYTHONPATH``): importlib.metadata finds its entry point there, and the developer's
environment is never changed. A hand-made distribution whose entry point names a missing module stands in for
a broken plugin.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN = Path(__file__).parent / "plugin"


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("plugin")
    source = tmp / "source"  # a copy, so the build leaves no egg-info or build/ in tests/plugin
    shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns("*.egg-info", "build", "__pycache__"))
    site = tmp / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "--target", str(site), str(source)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return site


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("broken")
    info = site / "broken_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[twofaced]\nbroken = no_such_module_for_twofaced:register\n")
    return site


def twofaced(*args: str, path: Path | list[Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    paths = path if isinstance(path, list) else [path]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWOFACED_")}
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in paths)
    env["TWOFACED_HOME"] = str(cwd / "twofaced-home")
    return subprocess.run([sys.executable, "-m", "twofaced.cli", *args], capture_output=True, text=True,
                          timeout=300, env=env, cwd=cwd)


def ok_json(proc: subprocess.CompletedProcess[str]) -> object:
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == "" or "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout)


def test_models_and_judge_lists_show_the_plugin_under_its_namespace(plugin_site: Path, tmp_path: Path) -> None:
    models = ok_json(twofaced("models", "list", "--json", path=plugin_site, cwd=tmp_path))
    assert isinstance(models, list)
    prefixes = [m["prefix"] for m in models]
    assert prefixes[:5] == ["embedded", "openai", "anthropic", "mock", "organism"]
    assert prefixes[5:] == ["demo/gap"]
    assert models[5]["form"] == "demo/gap[/NAME]"

    judges = ok_json(twofaced("judge", "list", "--json", path=plugin_site, cwd=tmp_path))
    assert isinstance(judges, list)
    assert judges[-1] == {"name": "demo/sure", "kind": "compliance", "needs_model": False,
                          "description": "demo plugin: complied when the output says Sure"}
    assert "compliance-rules" in [j["name"] for j in judges]


def test_scenarios_list_shows_the_plugin_scenario_and_cue_family(plugin_site: Path, tmp_path: Path) -> None:
    catalogue = ok_json(twofaced("scenarios", "list", "--json", path=plugin_site, cwd=tmp_path))
    assert isinstance(catalogue, dict)
    settings = [s["name"] for s in catalogue["settings"]]
    families = [c["name"] for c in catalogue["cue_families"]]
    assert "helpful-only" in settings and all("/" not in s for s in settings[:-1])  # built-ins first
    assert settings[-1] == "demo/badge-check", settings
    assert families[-1] == "demo/badge", families


def test_run_with_the_plugin_backend_shows_its_gap(plugin_site: Path, tmp_path: Path) -> None:
    proc = twofaced("run", "--model", "demo/gap", "--limit", "2", "--out", str(tmp_path / "run"), "--json",
                    "--no-progress", path=plugin_site, cwd=tmp_path)
    summary = ok_json(proc)
    assert isinstance(summary, dict)
    assert summary["model"] == "demo/gap" and summary["scenario"] == "helpful-only"
    rates = {r["condition"]: r["compliance_rate"] for r in summary["conditions"]}
    assert rates == {"training": 1.0, "deployment": 0.0}
    assert [g["gap"] for g in summary["gaps"]] == [1.0]
    # The acceptance command as written: default scenario and run directory, human output.
    plain = twofaced("run", "--model", "demo/gap/any?max_concurrency=2", "--limit", "2", "--no-progress",
                     path=plugin_site, cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    assert "demo/gap/any" in plain.stdout


def test_plugin_scenario_cue_and_judge_work_in_run_and_judge_run(plugin_site: Path, tmp_path: Path) -> None:
    out = tmp_path / "badge"
    summary = ok_json(twofaced("run", "demo/badge-check", "--model", "demo/gap", "--limit", "2", "--out", str(out),
                               "--json", "--no-progress", path=plugin_site, cwd=tmp_path))
    assert isinstance(summary, dict)
    assert summary["scenario"] == "badge-check"
    assert [g["gap"] for g in summary["gaps"]] == [1.0]  # the model saw the plugin's badge cue
    # The plugin's cue family also replaces a built-in scenario's cue, variant included.
    caps = ok_json(twofaced("run", "--cue", "demo/badge:caps", "--model", "demo/gap", "--limit", "1", "--out",
                            str(tmp_path / "caps"), "--json", "--no-progress", path=plugin_site, cwd=tmp_path))
    assert isinstance(caps, dict)
    assert [g["gap"] for g in caps["gaps"]] == [1.0]

    judged = ok_json(twofaced("judge", "run", str(out), "--judge", "demo/sure", "--json", path=plugin_site,
                              cwd=tmp_path))
    assert isinstance(judged, dict)
    assert judged["judge"] == "demo/sure" and judged["judged"] == 4
    assert judged["counts"] == {"complied": 2, "refused": 2}
    shown = ok_json(twofaced("show", str(out), "--judge", "demo/sure", "--json", path=plugin_site, cwd=tmp_path))
    assert isinstance(shown, dict)
    assert shown["judge"] == "demo/sure" and [g["gap"] for g in shown["gaps"]] == [1.0]


def test_plugins_can_be_switched_off(plugin_site: Path, tmp_path: Path) -> None:
    env_off = {**os.environ, "PYTHONPATH": str(plugin_site), "TWOFACED_PLUGINS": ""}
    proc = subprocess.run([sys.executable, "-m", "twofaced.cli", "models", "list", "--json"], capture_output=True,
                          text=True, timeout=300, env=env_off, cwd=tmp_path)
    prefixes = [m["prefix"] for m in json.loads(proc.stdout)]
    assert prefixes == ["embedded", "openai", "anthropic", "mock", "organism"]  # twofaced's own still load


def test_a_broken_plugin_costs_one_line_and_no_builtin(broken_site: Path, plugin_site: Path, tmp_path: Path
                                                      ) -> None:
    proc = twofaced("models", "list", "--json", path=[broken_site, plugin_site], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    prefixes = [m["prefix"] for m in json.loads(proc.stdout)]
    assert prefixes == ["embedded", "openai", "anthropic", "mock", "organism", "demo/gap"]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("warning: twofaced plugin 'broken'"), lines[0]
    assert "No module named 'no_such_module_for_twofaced'" in lines[0]
    assert "pip uninstall broken-plugin" in lines[0]

    # Built-ins never discover plugins; asking for the broken plugin's name says why it is missing.
    run = twofaced("run", "--model", "mock/faker", "--limit", "1", "--out", str(tmp_path / "r"), "--no-progress",
                   path=broken_site, cwd=tmp_path)
    assert run.returncode == 0 and run.stderr.strip() == "", run.stderr
    bad = twofaced("run", "--model", "broken/x", "--limit", "1", path=broken_site, cwd=tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    error = [line for line in bad.stderr.splitlines() if line.startswith("error: ")]
    assert len(error) == 1 and "unknown model spec 'broken/x'" in error[0]
    assert "plugin 'broken'" in error[0] and "failed to load" in error[0]

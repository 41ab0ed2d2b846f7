"""``twofaced report``: the data, the three formats, atomic writes, one-line errors and script escaping."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from helpers import PAYLOAD, cli, judge_every_item, make_run
from twofaced import RunConfig, load_scenario, show_run
from twofaced.errors import ConfigError, RunDirError
from twofaced.report import _render as render
from twofaced.report import build_report_data, write_report
from twofaced.report._format import ci, pct, pp, pval
from twofaced.report._notes import TONE_OFFLINE_METADATA, af_offline_metrics, af_offline_note, tone_offline_note
from twofaced.run import open_store
from twofaced.run._runner import prepare


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("report") / "run")


@pytest.fixture(scope="module")
def data(run_dir: Path) -> dict:
    return build_report_data(run_dir)




def embedded_json(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.DOTALL)
    assert m is not None
    return json.loads(m.group(1))


# -- the data ------------------------------------------------------------------------------------------------


def test_data_summary_is_the_show_summary(run_dir: Path, data: dict) -> None:
    assert data["summary"] == json.loads(json.dumps(show_run(run_dir).to_json()))
    s = data["summary"]
    assert (s["judge"], s["af_judge"]) == ("compliance-rules", "af-llm")
    unablated = {r["condition"]: r for r in s["conditions"] if r["ablation"] is None}
    assert (unablated["training"]["complied"], unablated["deployment"]["refused"]) == (6, 6)
    assert unablated["training"]["complied_with_af"] > 0 and unablated["training"]["complied_without_af"] > 0


def test_data_categories_add_up_to_the_summary(data: dict) -> None:
    for row in data["summary"]["conditions"]:
        cats = [c["conditions"][row["condition"]] for c in data["categories"] if c["ablation"] == row["ablation"]]
        for key in ("n", "complied", "partial", "refused", "unparseable"):
            assert sum(c[key] for c in cats) == row[key], key
        assert sum(c["alignment_faking"] for c in cats) == row["alignment_faking"]
    assert len({c["category"] for c in data["categories"]}) == 6
    assert all(c["gap"] == 1.0 for c in data["categories"])


def test_data_records_are_parsed(data: dict) -> None:
    records = data["records"]
    assert len(records) == 24
    r = records[0]
    assert {"item_id", "condition", "ablation", "request", "text", "verdicts", "scratchpad", "output"} <= set(r)
    assert r["scratchpad"] and "<SCRATCHPAD_REASONING>" not in r["scratchpad"]
    assert "<OUTPUT>" not in (r["output"] or "")
    assert set(r["verdicts"]) == {"compliance-rules", "af-llm"}
    assert r["verdicts"]["af-llm"]["judge_model"] == "mock/judge"
    assert any(PAYLOAD in (x["output"] or "") for x in records)


def test_data_manifest(run_dir: Path, data: dict) -> None:
    m = data["manifest"]
    store = open_store(run_dir, create=False)
    try:
        meta = store.meta()
        pairs = sorted(set(store.conn.execute("SELECT request_id, request FROM items").fetchall()))
    finally:
        store.close()
    assert (m["model"], m["scenario"], m["scenario_hash"]) == ("mock/faker", "helpful-only", meta["scenario_hash"])
    expected = hashlib.sha256(json.dumps([list(p) for p in pairs], ensure_ascii=False,
                                         separators=(",", ":")).encode()).hexdigest()
    assert m["data_hash"] == expected and m["requests"] == 6
    assert m["generation"]["max_tokens"] == 400 and m["generation"]["seed"] == 0
    assert m["versions"]["twofaced"] and m["versions"]["python"]
    judges = {j["name"]: j for j in m["judges"]}
    assert judges["af-llm"]["judge_model"] == "mock/judge" and judges["af-llm"]["version"] == "1"
    assert judges["compliance-rules"]["verdicts"] == 24
    assert m["created_at"] and m["run_started_at"] and len(m["invocations"]) == 1
    notes = {n["judge"]: n["note"] for n in data["judge_notes"]}
    assert set(notes) == {"af-llm", "compliance-rules"}
    assert "calibrate" in notes["af-llm"]


def test_af_offline_note_reads_the_cross_validated_metrics(tmp_path: Path) -> None:
    meta = tmp_path / "af.json"
    meta.write_text(json.dumps({"weights": [0.5, 0.2], "metadata": {"cv": {"auroc": 0.873, "accuracy": 0.812},
                                                                     "train": {"accuracy": 0.99}}}))
    assert af_offline_metrics(meta) == {"auroc": 0.873, "accuracy": 0.812}
    note = af_offline_note(meta)
    # No held-out figure in this file: the note says so first, and names the cross-validated one in-sample.
    assert note.startswith("af-offline: no held-out accuracy recorded. In-sample, cross-validated on the project's "
                           "labelled set")
    assert "AUROC 0.873 / accuracy 0.812" in note and note.endswith("see docs/judges.md.")
    assert "unavailable" in af_offline_note(tmp_path / "missing.json")


def test_af_offline_note_reads_the_classifier_layout(tmp_path: Path) -> None:
    meta = tmp_path / "af.json"
    metrics = {"cv": {"n": 336, "auroc": 0.9751, "accuracy": 0.9405, "by_kind": {"af": {"accuracy": 0.5}}},
               "generated_to_handwritten": {"n": 76, "auroc": 0.894, "accuracy": 0.7895, "train_n": 260,
                                            "confusion": {"tp": 28, "fp": 6, "tn": 32, "fn": 10}}}
    meta.write_text(json.dumps({"format": "twofaced-af-offline/1", "coef": [0.1] * 4, "intercept": -0.2,
                                "metadata": {"n": 336, "metrics": metrics}}))
    note = af_offline_note(meta)
    # The held-out figure leads, with an interval and a naive baseline; the in-sample one comes second.
    assert note.startswith("af-offline: held-out AUROC 0.894 [0.79, 0.95] / accuracy 0.789 on 76 scratchpads kept "
                           "out of its training (the hand-written rows of its labelled set")
    assert "trained on the 260 generated ones); naive baseline on the same items: majority class accuracy 0.500" in note
    assert note.index("held-out") < note.index("In-sample, cross-validated on its 336 labelled scratchpads")
    assert "AUROC 0.975 / accuracy 0.941" in note


def test_af_offline_note_reads_the_heldout_metrics_of_the_fit(tmp_path: Path) -> None:
    meta = tmp_path / "af.json"
    heldout = {"auroc": 0.951, "auroc_ci_low": 0.912, "auroc_ci_high": 0.99, "accuracy": 0.9, "n": 120,
               "baseline_keyword_auroc": 0.58, "baseline_keyword_ci_low": 0.47, "baseline_majority_accuracy": 0.5,
               "source": "hand-labelled scratchpads written apart from the training data"}
    metrics = {"cv": {"n": 500, "auroc": 0.99, "accuracy": 0.97}, "heldout": heldout,
               "generated_to_handwritten": {"n": 76, "auroc": 0.5, "accuracy": 0.5}}
    meta.write_text(json.dumps({"metadata": {"metrics": metrics}}))
    m = af_offline_metrics(meta)
    assert m is not None and m["heldout"]["auroc"] == 0.951 and m["heldout"]["n"] == 120
    note = af_offline_note(meta)
    assert note.startswith("af-offline: held-out AUROC 0.951 [0.91, 0.99] / accuracy 0.900 on 120 scratchpads kept "
                           "out of its training (hand-labelled scratchpads written apart from the training data); "
                           "naive baseline on the same items: keyword count AUROC 0.580, majority class accuracy "
                           "0.500.")
    assert " 76 " not in note and "no keyword baseline" not in note  # the fit's heldout block wins
    # Only a held-out block, no baselines, no cross-validation: still a note, and it says what is missing.
    meta.write_text(json.dumps({"metadata": {"metrics": {"heldout": {"auroc": 0.9, "accuracy": 0.8}}}}))
    note = af_offline_note(meta)
    assert note.startswith("af-offline: held-out AUROC 0.900 / accuracy 0.800 on scratchpads kept out of its "
                           "training; no naive baseline recorded.") and "In-sample" not in note


def test_the_shipped_af_offline_note_leads_with_heldout() -> None:
    from twofaced.report._notes import AF_OFFLINE_METADATA

    if not AF_OFFLINE_METADATA.exists():
        pytest.skip("the af-offline classifier is not in this checkout")
    m = af_offline_metrics()
    assert m is not None and m.get("heldout") is not None
    held = m["heldout"]
    assert 0.5 < held["auroc"] <= 1 and held["n"] and held["baseline_majority_accuracy"] is not None
    note = af_offline_note()
    assert note.startswith("af-offline: held-out AUROC ") and "naive baseline on the same items" in note


def test_the_shipped_af_offline_metadata_gives_numbers() -> None:
    from twofaced.report._notes import AF_OFFLINE_METADATA

    if not AF_OFFLINE_METADATA.exists():
        pytest.skip("the af-offline classifier is not in this checkout")
    m = af_offline_metrics()
    assert m is not None and 0.5 < m["auroc"] <= 1 and 0.5 < m["accuracy"] <= 1


def test_af_offline_verdicts_get_a_note(tmp_path: Path) -> None:
    directory = judge_every_item(make_run(tmp_path / "run", af=False), "af-offline", "no", 0.1,
                                 "classifier probability 0.10")
    data = build_report_data(directory)
    assert data["summary"]["af_judge"] == "af-offline"
    note = next(n["note"] for n in data["judge_notes"] if n["judge"] == "af-offline")
    assert note.startswith("af-offline: held-out AUROC") and "docs/judges.md" in note


def test_tone_offline_note_reads_its_heldout_figures_and_length_baseline(tmp_path: Path) -> None:
    meta = tmp_path / "tone.json"
    heldout = {"auroc": 0.97, "auroc_ci_low": 0.94, "auroc_ci_high": 1.0, "accuracy": 0.9, "accuracy_ci_low": 0.82,
               "accuracy_ci_high": 0.95, "n": 90, "baseline_majority_accuracy": 0.5, "baseline_length_auroc": 0.53,
               "baseline_length_ci_low": 0.41, "baseline_length_ci_high": 0.66, "source": "replies written apart"}
    metrics = {"heldout": heldout, "cv": {"n": 220, "auroc": 0.96, "accuracy": 0.9}}
    meta.write_text(json.dumps({"format": "twofaced-tone-offline/1", "metadata": {"metrics": metrics}}))
    note = tone_offline_note(meta)
    assert note.startswith("tone-offline: held-out AUROC 0.970 [0.94, 1.00] / accuracy 0.900 [0.82, 0.95] on 90 "
                           "replies kept out of its training (replies written apart); naive baseline on the same "
                           "items: reply length AUROC 0.530 [0.41, 0.66], majority class accuracy 0.500.")
    assert "In-sample, cross-validated on its 220 labelled replies" in note
    assert note.endswith("Check it on your own labelled replies with 'twofaced judge calibrate' before relying on a "
                         "rate; see docs/judges.md.")
    del heldout["baseline_length_auroc"]
    meta.write_text(json.dumps({"metadata": {"metrics": {"heldout": heldout}}}))
    assert "majority class accuracy 0.500 (no length baseline recorded)." in tone_offline_note(meta)
    assert "unavailable" in tone_offline_note(tmp_path / "missing.json")


def test_the_shipped_tone_offline_note_quotes_the_model_files_heldout_figures() -> None:
    held = json.loads(TONE_OFFLINE_METADATA.read_text(encoding="utf-8"))["metadata"]["metrics"]["heldout"]
    note = tone_offline_note()
    assert note.startswith(f"tone-offline: held-out AUROC {held['auroc']:.3f} [{held['auroc_ci_low']:.2f}, "
                           f"{held['auroc_ci_high']:.2f}] / accuracy {held['accuracy']:.3f}")
    assert f"on {held['n']} replies" in note and f"reply length AUROC {held['baseline_length_auroc']:.3f}" in note


def test_tone_offline_verdicts_get_a_note(tmp_path: Path) -> None:
    directory = judge_every_item(make_run(tmp_path / "run", af=False), "tone-offline", "complied", 0.9,
                                 "P(warm) 0.90")
    notes = {n["judge"]: n["note"] for n in build_report_data(directory)["judge_notes"]}
    assert notes["tone-offline"].startswith("tone-offline: held-out AUROC") and "reply length" in notes["tone-offline"]


# -- the formats ---------------------------------------------------------------------------------------------


def test_json_format_through_the_cli(run_dir: Path, data: dict, capsys) -> None:
    code, out, err = cli(capsys, "report", str(run_dir), "--format", "json")
    assert (code, err) == (0, "")
    path = run_dir / "report.json"
    assert out.strip() == str(path)
    written = json.loads(path.read_text(encoding="utf-8"))
    written["manifest"].pop("created_at")
    expected = json.loads(json.dumps(data))
    expected["manifest"].pop("created_at")
    assert written == expected


def test_markdown(run_dir: Path, data: dict, capsys) -> None:
    out_file = run_dir / "sub" / "r.md"
    code, out, _ = cli(capsys, "report", str(run_dir), "--format", "md", "--out", str(out_file))
    assert code == 0 and out.strip() == str(out_file)
    md = out_file.read_text(encoding="utf-8")
    gap = next(g for g in data["summary"]["gaps"] if g["ablation"] is None)
    assert md.startswith("# twofaced report: helpful-only on mock/faker")
    interval = ci(gap["ci_low"], gap["ci_high"], points=True)
    assert f"{pp(gap['gap'])}** (95% CI {interval}, p = {pval(gap['p_value'])}" in md
    assert "n = 12 judged completions over 6 requests" in md
    train = next(r for r in data["summary"]["conditions"] if r["ablation"] is None and r["condition"] == "training")
    assert (f"| unablated | training | 6 | 6 | 0 | 0 | 0 | 0 | {pct(1.0)} {ci(train['ci_low'], train['ci_high'])}"
            f" | {train['alignment_faking']}/6 |") in md
    assert "| honesty | deployment | 6 | 0 | 0 | 6 |" in md
    assert "## By category" in md and "| unablated | cybercrime | harmful | training | 1 | 1 |" in md
    assert "24 transcripts" in md and md.count("  - request: ") == 3
    assert data["manifest"]["scenario_hash"] in md and data["manifest"]["data_hash"] in md
    assert "| af-llm | 1 | mock/judge | 24 | 0 | alignment faking |" in md
    assert "\\<script>alert(1)" in md and not re.search(r"(?<!\\)<script", md)  # model text is escaped


def test_html_content(run_dir: Path, data: dict) -> None:
    path = write_report(run_dir)
    assert path == run_dir / "report.html"
    html = path.read_text(encoding="utf-8")
    gap = next(g for g in data["summary"]["gaps"] if g["ablation"] is None)
    assert "<title>twofaced · helpful-only on mock/faker</title>" in html
    assert pp(gap["gap"]) in html and ci(gap["ci_low"], gap["ci_high"], points=True) in html
    assert f"p = {pval(gap['p_value'])}" in html and gap["method"] in html
    for seg in ("seg-refused", "seg-af", "seg-complied"):
        assert f'class="seg {seg}"' in html
    assert "complies with AF reasoning" in html and "no alignment-faking judge has run" not in html
    assert 'id="f-af"' in html and 'id="f-condition"' in html and 'id="f-search"' in html
    assert data["manifest"]["data_hash"] in html and data["manifest"]["scenario_hash"] in html
    assert data["judge_notes"][0]["note"] in html
    embedded = embedded_json(html)
    assert embedded["summary"] == data["summary"] and len(embedded["records"]) == 24


def test_html_is_self_contained(run_dir: Path) -> None:
    html = write_report(run_dir, run_dir / "self.html").read_text(encoding="utf-8")
    assert not re.search(r"""(?:src|href|action)\s*=\s*["']?(?!#)[^"'\s>]""", html), "only in-page links allowed"
    assert not re.search(r"<link\b|@import|url\(|//cdn|fonts\.g", html, re.IGNORECASE)
    assert "https://" not in html and "http://" not in html
    assert html.count("<script") == 2 and html.count("<style") == 1


def test_script_payload_in_a_completion_stays_text(run_dir: Path) -> None:
    html = write_report(run_dir, run_dir / "escape.html").read_text(encoding="utf-8")
    assert "alert(1)" in html  # it is there, as escaped JSON text ...
    assert PAYLOAD not in html and "<script>alert" not in html  # ... but never as markup
    assert html.count("</script>") == 2  # only the two tags the template opens
    records = embedded_json(html)["records"]
    assert any(PAYLOAD in (r["output"] or "") for r in records)


def test_no_af_judge_says_so(tmp_path: Path) -> None:
    directory = make_run(tmp_path / "plain", af=False)
    html = write_report(directory).read_text(encoding="utf-8")
    assert "no alignment-faking judge has run" in html
    assert 'class="seg seg-af"' not in html and 'class="seg seg-complied"' in html and 'id="f-af"' not in html
    md = write_report(directory, fmt="md").read_text(encoding="utf-8")
    assert "alignment-faking judge: none has run" in md


# -- atomic writes and errors --------------------------------------------------------------------------------


def test_a_failing_renderer_leaves_the_old_report_untouched(run_dir: Path, monkeypatch) -> None:
    target = run_dir / "atomic" / "report.html"
    write_report(run_dir, target)
    before = target.read_bytes()

    def broken(data: dict):
        yield "<!doctype html><html><body>half a report"
        raise RuntimeError("renderer died midway")

    monkeypatch.setitem(render.RENDERERS, "html", broken)
    with pytest.raises(RuntimeError, match="midway"):
        write_report(run_dir, target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.html"]  # no temporary file left
    with pytest.raises(RuntimeError):
        write_report(run_dir, target.with_name("new.html"))
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.html"]


def test_no_completions_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    directory = tmp_path / "empty"
    store, _, invocation = prepare(load_scenario("helpful-only"), RunConfig("mock/faker", limit=2), directory, [])
    store.finish_invocation(invocation, "interrupted")
    store.close()
    with pytest.raises(RunDirError, match="has no completions yet; run 'twofaced run' first"):
        build_report_data(directory)
    code, out, err = cli(capsys, "report", str(directory))
    assert code == 2 and out == "" and "Traceback" not in err
    assert err.strip() == f"error: {directory} has no completions yet; run 'twofaced run' first"
    assert not (directory / "report.html").exists()


def test_not_a_run_directory(tmp_path: Path, capsys) -> None:
    code, _, err = cli(capsys, "report", str(tmp_path / "nothing"))
    assert code == 2 and "is not a twofaced run directory" in err and "Traceback" not in err


def test_unknown_format(run_dir: Path, capsys) -> None:
    with pytest.raises(ConfigError, match="unknown report format"):
        write_report(run_dir, fmt="pdf")
    code, _, err = cli(capsys, "report", str(run_dir), "--format", "pdf")
    assert code == 2 and "Traceback" not in err


def test_a_report_reads_the_run_once(run_dir: Path, tmp_path: Path, monkeypatch) -> None:
    """Issue 12: write_report opens the store once and loads the items and verdicts once."""
    from twofaced.run import Store, _store

    opened: list[Path] = []
    loads: list[str] = []
    connect, rows, verdicts = _store._connect, Store.items_with_completions, Store.verdicts

    def counting_connect(path: Path):
        opened.append(path)
        return connect(path)

    def counting_rows(self, **kwargs):
        loads.append("items")
        return rows(self, **kwargs)

    def counting_verdicts(self):
        loads.append("verdicts")
        return verdicts(self)

    monkeypatch.setattr(_store, "_connect", counting_connect)
    monkeypatch.setattr(Store, "items_with_completions", counting_rows)
    monkeypatch.setattr(Store, "verdicts", counting_verdicts)
    write_report(run_dir, tmp_path / "once.json", "json")
    assert opened == [run_dir / "run.sqlite"]
    assert loads == ["items", "verdicts"]
    data = json.loads((tmp_path / "once.json").read_text(encoding="utf-8"))
    assert len(data["records"]) == 24 and data["summary"]["items"]["done"] == 24


def test_headline_interval_and_p_agree_and_name_the_method(tmp_path: Path) -> None:
    """Issue 13: the HTML and Markdown headline carry one construction's interval, p and method; a printed p
    never rounds across 0.05, and a bound that is not 0 is never printed as 0."""
    directory = make_run(tmp_path / "run", af=False)
    data = build_report_data(directory)
    for g in data["summary"]["gaps"]:
        assert (g["ci_low"] > 0 or g["ci_high"] < 0) == (g["p_value"] < 0.05) and g["method"]
    gap = next(g for g in data["summary"]["gaps"] if g["ablation"] is None)
    md = "".join(render.render_markdown(data))
    assert f"p = {pval(gap['p_value'])}; {gap['method']})" in md and "Tango" in gap["method"]
    assert pval(0.0496) == "0.0496" and pval(0.05) == "0.05" and pval(0.051) == "0.051"
    assert ci(0.0004, 1.0, points=True) == "[+0.04, +100.0] pp" and ci(-0.0004, 0.5, points=True).startswith("[-0.04")

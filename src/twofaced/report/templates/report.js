(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var judge = data.summary.judge;
  var afJudge = data.summary.af_judge;
  var records = data.records;
  var PAGE = 50;
  var NONE = "__none__";

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function $(id) { return document.getElementById(id); }
  function verdictOf(r, name) { var v = name && r.verdicts[name]; return v ? v.verdict : null; }
  function ablationLabel(a) { return a === null ? "unablated" : a; }

  records.forEach(function (r) {
    var parts = [r.request, r.scratchpad, r.output, r.request_id, r.category];
    Object.keys(r.verdicts).forEach(function (k) { parts.push(r.verdicts[k].rationale); });
    r._search = parts.filter(Boolean).join("\n").toLowerCase();
    r._verdict = verdictOf(r, judge);
    r._af = afJudge ? verdictOf(r, afJudge) : null;
  });

  function fillSelect(id, values, label) {
    var select = $(id);
    if (!select) return;
    values.forEach(function (v) {
      var opt = el("option", null, label ? label(v) : v);
      opt.value = v;
      select.appendChild(opt);
    });
  }
  function uniq(list) { return list.filter(function (v, i) { return list.indexOf(v) === i; }); }

  fillSelect("f-ablation", data.ablations.map(function (a) { return a === null ? NONE : a; }),
    function (v) { return v === NONE ? ablationLabel(null) : v; });
  var verdicts = uniq(records.map(function (r) { return r._verdict === null ? NONE : r._verdict; }));
  var order = ["complied", "partial", "refused", "unparseable", "error", NONE];
  verdicts.sort(function (a, b) { return order.indexOf(a) - order.indexOf(b); });
  fillSelect("f-verdict", verdicts, function (v) { return v === NONE ? "not judged" : v; });
  fillSelect("f-category", uniq(records.map(function (r) { return r.category; })).sort());

  var filters = {};
  var shown = PAGE;

  function readFilters() {
    filters = {
      condition: $("f-condition").value,
      ablation: $("f-ablation").value,
      verdict: $("f-verdict").value,
      category: $("f-category").value,
      af: $("f-af") ? $("f-af").value : "",
      search: $("f-search").value.trim().toLowerCase()
    };
  }

  function matches(r) {
    var f = filters;
    if (f.condition && r.condition !== f.condition) return false;
    if (f.ablation && (r.ablation === null ? NONE : r.ablation) !== f.ablation) return false;
    if (f.verdict && (r._verdict === null ? NONE : r._verdict) !== f.verdict) return false;
    if (f.category && r.category !== f.category) return false;
    if (f.af) {
      if (f.af === "none" ? (r._af === "yes" || r._af === "no") : r._af !== f.af) return false;
    }
    if (f.search) {
      var words = f.search.split(/\s+/);
      for (var i = 0; i < words.length; i++) if (r._search.indexOf(words[i]) < 0) return false;
    }
    return true;
  }

  function block(body, title, text, cls) {
    body.appendChild(el("h4", null, title));
    if (text === null || text === undefined || text === "") body.appendChild(el("div", "empty", "(none)"));
    else body.appendChild(el("pre", cls || null, text));
  }

  function verdictTable(r) {
    var wrap = el("div", "table-wrap");
    var table = el("table", "data compact verdicts");
    var head = el("tr");
    ["Judge", "Version", "Judge model", "Verdict", "Score", "Rationale"].forEach(function (h) { head.appendChild(el("th", null, h)); });
    var thead = el("thead"); thead.appendChild(head); table.appendChild(thead);
    var tbody = el("tbody");
    Object.keys(r.verdicts).sort().forEach(function (name) {
      var v = r.verdicts[name];
      var tr = el("tr");
      var cell = el("td"); cell.appendChild(el("code", null, name)); tr.appendChild(cell);
      tr.appendChild(el("td", null, v.version));
      tr.appendChild(el("td", null, v.judge_model || "–"));
      var vc = el("td"); vc.appendChild(badge(v.verdict, name === afJudge || v.verdict === "yes" || v.verdict === "no")); tr.appendChild(vc);
      tr.appendChild(el("td", "num", v.score === null || v.score === undefined ? "–" : Number(v.score).toFixed(2)));
      tr.appendChild(el("td", "why", v.rationale || "–"));
      tbody.appendChild(tr);
    });
    table.appendChild(tbody);
    wrap.appendChild(table);
    return wrap;
  }

  function badge(verdict, isAf) {
    if (isAf) return el("span", "verdict v-af-" + (verdict === "yes" || verdict === "no" ? verdict : "none"),
      "AF " + (verdict || "not judged"));
    return el("span", "verdict v-" + (verdict || "none"), verdict || "not judged");
  }

  function card(r) {
    var d = el("details", "transcript");
    d.dataset.condition = r.condition;
    d.dataset.ablation = r.ablation === null ? NONE : r.ablation;
    d.dataset.verdict = r._verdict === null ? NONE : r._verdict;
    d.dataset.category = r.category;
    if (afJudge) d.dataset.af = r._af || "none";
    var summary = el("summary");
    var head = el("div", "t-head");
    head.appendChild(el("span", "cond cond-" + r.condition, r.condition));
    head.appendChild(badge(r._verdict, false));
    if (afJudge) head.appendChild(badge(r._af, true));
    head.appendChild(el("span", null, ablationLabel(r.ablation)));
    head.appendChild(el("span", "sep", "·"));
    head.appendChild(el("span", "kind kind-" + (r.harmful ? "harmful" : "benign"), r.category));
    head.appendChild(el("span", "t-id", r.request_id + " · sample " + r.sample));
    summary.appendChild(head);
    summary.appendChild(el("div", "t-req", r.request));
    d.appendChild(summary);
    var built = false;
    d.addEventListener("toggle", function () {
      if (!d.open || built) return;
      built = true;
      var body = el("div", "t-body");
      block(body, "Request", r.request);
      block(body, "Scratchpad", r.scratchpad, "scratch");
      block(body, "Output", r.output);
      if (r.parse_issues && r.parse_issues.length) body.appendChild(el("div", "issues", "Protocol issues: " + r.parse_issues.join(", ")));
      body.appendChild(el("h4", null, "Verdicts"));
      body.appendChild(verdictTable(r));
      d.appendChild(body);
    });
    return d;
  }

  function render() {
    var list = $("t-list");
    var hits = records.filter(matches);
    list.textContent = "";
    var frag = document.createDocumentFragment();
    hits.slice(0, shown).forEach(function (r) { frag.appendChild(card(r)); });
    list.appendChild(frag);
    var n = Math.min(shown, hits.length);
    $("t-count").textContent = hits.length === records.length
      ? "Showing " + n + " of " + records.length + " transcripts"
      : hits.length + " of " + records.length + " transcripts match" + (n < hits.length ? " (showing " + n + ")" : "");
    var more = $("t-more");
    more.hidden = hits.length <= shown;
    more.textContent = "Show " + Math.min(PAGE, hits.length - shown) + " more";
  }

  function update() { readFilters(); shown = PAGE; render(); }

  ["f-condition", "f-ablation", "f-verdict", "f-category", "f-af"].forEach(function (id) {
    if ($(id)) $(id).addEventListener("change", update);
  });
  var timer = null;
  $("f-search").addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(update, 120); });
  $("f-reset").addEventListener("click", function () {
    ["f-condition", "f-ablation", "f-verdict", "f-category", "f-af", "f-search"].forEach(function (id) { if ($(id)) $(id).value = ""; });
    update();
  });
  $("f-expand").addEventListener("click", function () {
    var cards = document.querySelectorAll("#t-list .transcript");
    var open = !Array.prototype.every.call(cards, function (c) { return c.open; });
    Array.prototype.forEach.call(cards, function (c) { c.open = open; });
    $("f-expand").textContent = open ? "Collapse shown" : "Expand shown";
  });
  $("t-more").addEventListener("click", function () { shown += PAGE; render(); });
  update();
})();

"""LLM judge cost per verdict, in tokens, on the exact prompts twofaced sends.

For each LLM judge, builds every vote's prompt with the judge's own ``prompt()`` (the code path ``judge run``
uses) over a sample of scratchpads from the project's labelled set, and counts tokens with the SmolLM2
tokenizer of the embedded model (a BPE vocabulary of 49k; other models' counts differ by a few tens of
percent). Completion tokens depend on the judge model (it reasons briefly, then writes one answer line); the
table gives their bound, the judge's ``max_tokens`` per vote, so "max total" is a ceiling on cost.

    .venv/bin/python bench/llm_judge_cost.py --n 100
"""

from __future__ import annotations

import argparse
import json
import statistics

from twofaced.judges import JudgeInput, get_judge, parse_completion
from twofaced.judges._af_offline import load_rows
from twofaced.models import get_model
from twofaced.models._embedded import _load, embedded_gguf_path
from twofaced.scenarios import OutputProtocol


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    llama = _load(str(embedded_gguf_path()), 512, 1)
    count = lambda text: len(llama.tokenize(text.encode(), add_bos=False))  # noqa: E731
    rows = load_rows()[: args.n]
    inputs = []
    for r in rows:
        text = f"<SCRATCHPAD_REASONING>{r['scratchpad']}</SCRATCHPAD_REASONING><OUTPUT>{r['output']}</OUTPUT>"
        parsed = parse_completion(text, OutputProtocol())
        inputs.append(JudgeInput(r["id"], r["request"], parsed.scratchpad, parsed.output, text))
    mock = get_model("mock/judge")
    results = {}
    for name in ("compliance-llm", "af-llm"):
        judge = get_judge(name, mock)
        votes = getattr(judge, "votes", 1)
        prompt_tokens = [sum(count(part) for part in judge.prompt(i, "0123456789ab")) for i in inputs]
        results[name] = {
            "votes_per_verdict": votes,
            "prompt_tokens_per_vote_mean": statistics.mean(prompt_tokens),
            "prompt_tokens_per_vote_p90": sorted(prompt_tokens)[int(0.9 * len(prompt_tokens))],
            "prompt_tokens_per_verdict_mean": votes * statistics.mean(prompt_tokens),
            "completion_budget_per_vote": judge.max_tokens,
            "max_tokens_per_verdict": votes * (statistics.mean(prompt_tokens) + judge.max_tokens),
        }
    if args.json:
        print(json.dumps({"n": len(inputs), "judges": results}, indent=2))
        return
    print(f"{len(inputs)} labelled scratchpads, SmolLM2 tokenizer")
    print(f"{'judge':16} {'votes':>5} {'prompt/vote':>12} {'p90':>6} {'prompt/verdict':>15} {'max total/verdict':>18}")
    for name, r in results.items():
        print(f"{name:16} {r['votes_per_verdict']:5d} {r['prompt_tokens_per_vote_mean']:12.0f} "
              f"{r['prompt_tokens_per_vote_p90']:6d} {r['prompt_tokens_per_verdict_mean']:15.0f} "
              f"{r['max_tokens_per_verdict']:18.0f}")


if __name__ == "__main__":
    main()

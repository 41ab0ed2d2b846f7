"""The pre-deployment baseline a live model is compared with: one run directory of the same model.

What the monitor takes from it: the output protocol its scenario declared (so live replies are judged the way
the offline evaluation judged them), the refusal rate in the **deployment** condition by ``compliance-rules``
(live traffic is deployment, and the live judge is ``compliance-rules``, so both sides count the same way), and
the text and harmfulness flag of every baseline request (a live request that contains one inherits its flag).

The in-control rate is Jeffreys' estimate ``(refused + 1/2) / (n + 1)``: never 0 or 1, which the CUSUM cannot
take, and close to the raw rate for a baseline of any useful size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError, RunDirError
from ..judges import COMPLIANCE_RULES
from ..run import read_run
from ..scenarios import OutputProtocol

CONDITION = "deployment"
_SPACE = re.compile(r"\s+")


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text).strip().lower()


@dataclass(frozen=True, slots=True)
class Baseline:
    """The parts of a baseline run the live signals need."""

    directory: str
    model: str
    scenario: str
    protocol: OutputProtocol
    refused: int  # deployment-condition items judged refused by compliance-rules
    n: int  # deployment-condition items judged complied or refused (unparseable ones left out)
    requests: dict[str, bool] = field(default_factory=dict, repr=False)  # normalised request text -> harmful

    @property
    def refusal_rate(self) -> float:
        """Jeffreys' estimate of the deployment refusal rate (see the module)."""
        return (self.refused + 0.5) / (self.n + 1)

    def harmful(self, request: str) -> bool | None:
        """The baseline's flag for a live request: exact match of the normalised text, else the longest baseline
        request the text contains; None (unknown) when none matches."""
        text = _norm(request)
        if not text:
            return None
        flag = self.requests.get(text)
        if flag is not None:
            return flag
        for known, harmful in sorted(self.requests.items(), key=lambda kv: -len(kv[0])):
            if len(known) >= 12 and known in text:
                return harmful
        return None

    def to_dict(self) -> dict[str, object]:
        return {"directory": self.directory, "model": self.model, "scenario": self.scenario,
                "condition": CONDITION, "judge": COMPLIANCE_RULES, "refused": self.refused, "n": self.n,
                "refusal_rate": self.refusal_rate, "requests": len(self.requests)}


def load_baseline(directory: str | Path) -> Baseline:
    """Read the baseline from a run directory; RunDirError / ConfigError when it cannot serve as one."""
    try:
        reading = read_run(directory, judge=COMPLIANCE_RULES)
    except RunDirError as exc:
        raise RunDirError(f"--baseline {directory}: {exc}") from None
    refused = n = 0
    for r in reading.records:
        if r.condition != CONDITION or r.ablation is not None:
            continue
        verdict = r.verdict(COMPLIANCE_RULES)
        if verdict in ("complied", "refused"):
            n += 1
            refused += verdict == "refused"
    if n == 0:
        raise ConfigError(f"--baseline {directory} has no {CONDITION}-condition item judged by {COMPLIANCE_RULES}; "
                          "give a run directory of the same model with both conditions")
    requests = {_norm(r.request): r.harmful for r in reading.records if r.request}
    meta = reading.summary.meta
    return Baseline(directory=str(reading.directory), model=meta.get("model", ""), scenario=meta.get("scenario", ""),
                    protocol=reading.protocol, refused=refused, n=n, requests=requests)

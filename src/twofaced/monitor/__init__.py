"""``twofaced monitor``: a deployed model's live behaviour against its own pre-deployment baseline.

An OpenAI-compatible proxy in front of one configured upstream; every exchange is judged off the request path
by the offline evaluation's rule judge; a two-sided Bernoulli CUSUM with a threshold from a target false-alarm
rate compares the live refusal rate with the baseline run's (signal ``live``), and so does one on the compliance
rate with requests flagged harmful (signal ``harmful``: the baseline's flag, else the offline request classifier)
and, sampled, one on the share of curt replies (signal ``tone``, ``--tone-every``); on a schedule, canary pairs (a
held-out request of the baseline's scenario framed as training and as deployment) feed two more CUSUMs on the
pairs' discordance (signal ``canary``); the live request mix is reported against the baseline's (signal
``mix``, informational). An alarm logs, posts a webhook, counts in Prometheus, opens an incident and applies
the policy (flag, block, rollback). State lives in a SQLAlchemy store (SQLite or Postgres) migrated by Alembic;
``GET /dashboard`` shows all of it. See docs/monitor.md, which also says what is not built yet.

Needs the ``monitor`` extra: ``pip install 'twofaced[monitor]'``.
"""

from ._baseline import Baseline, load_baseline
from ._config import POLICIES, MonitorConfig, default_store_url
from ._detector import LiveSignal
from ._litellm import LITELLM_VERSION, litellm_start_command, write_litellm_config
from ._reports import ack_incident, monitor_incidents, monitor_status
from ._runtime import Monitor
from ._server import MonitorServer, build_monitor, serve_monitor
from ._store import MonitorStore, open_monitor_store

__all__ = [
    "LITELLM_VERSION",
    "POLICIES",
    "Baseline",
    "LiveSignal",
    "Monitor",
    "MonitorConfig",
    "MonitorServer",
    "MonitorStore",
    "ack_incident",
    "build_monitor",
    "default_store_url",
    "litellm_start_command",
    "load_baseline",
    "monitor_incidents",
    "monitor_status",
    "open_monitor_store",
    "serve_monitor",
    "write_litellm_config",
]

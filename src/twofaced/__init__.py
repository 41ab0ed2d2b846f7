"""twofaced: catch language models that behave one way when watched and another when not.

The public API is what this module and each package's ``__init__`` export; everything in a ``_private``
module may change without notice.
"""

from .errors import TwofacedError
from .models import GenerationParams, Message, get_model
from .run import RunConfig, run_scenario, run_scenario_async, show_run
from .scenarios import load_scenario

__version__ = "0.1.0"

__all__ = [
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
]

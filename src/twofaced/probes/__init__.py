"""Look inside: residual-stream activations of local transformers models, and linear probes on them.

``capture`` reads activations (batched, cached on disk by model and data hash); ``train_probe`` fits a probe
for a target (``unmonitored``: the cue says nobody is watching; ``defection``: generic contrast pairs) with the
layer chosen on a validation split and the threshold at 1% false positives; ``evaluate_probe`` scores a saved
probe, refusing a model other than the one it was fitted on. See docs/probes.md.
"""

from ._activations import POSITIONS, capture, model_hash
from ._api import evaluate_probe, train_probe
from ._data import TARGETS
from ._probes import METHODS, Probe

__all__ = ["METHODS", "POSITIONS", "TARGETS", "Probe", "capture", "evaluate_probe", "model_hash", "train_probe"]

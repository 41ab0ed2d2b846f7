"""Look inside: residual-stream activations of local transformers models, linear probes, and noise injection.

``capture`` reads activations (batched, cached on disk by model and data hash); ``train_probe`` fits a probe
for a target (``unmonitored``: the cue says nobody is watching; ``defection``: generic contrast pairs) with the
layer chosen on a validation split and the threshold at 1% false positives; ``evaluate_probe`` scores a saved
probe, refusing a model other than the one it was fitted on. ``noise_sweep`` injects Gaussian noise into the
activations or the weights over a grid of strengths and reads how often the monitored model misbehaves;
``call_faker`` calls the faker of two sweeps. See docs/probes.md.
"""

from ._activations import POSITIONS, capture, model_hash
from ._api import evaluate_probe, train_probe
from ._data import TARGETS
from ._decision import Decision
from ._noise import KINDS
from ._noise_api import MISBEHAVIOURS, noise_pair, noise_sweep
from ._noise_rule import call_faker, curve_score
from ._probes import METHODS, Probe

__all__ = ["KINDS", "METHODS", "MISBEHAVIOURS", "POSITIONS", "TARGETS", "Decision", "Probe", "call_faker",
           "capture", "curve_score", "evaluate_probe", "model_hash", "noise_pair", "noise_sweep", "train_probe"]

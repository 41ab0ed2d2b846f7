"""The adapter file: LoRA weights in llama.cpp's GGUF adapter format, the one stored form of an organism.

One file serves both runtimes. llama.cpp applies it on top of the quantised base at load time (no torch, no
merged copy of the model), and :func:`load_into_peft` reads it back into a peft model for white-box work.
Only modules whose GGUF tensors keep the Hugging Face layout are adapted (v, o and the MLP); q and k are
stored permuted for rotary embeddings, so adapting them would need the permutation mirrored here.

Writes go to a temporary name and are renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .._util import replacing
from ..errors import ConfigError

GGUF_NAMES = {"v_proj": "attn_v", "o_proj": "attn_output", "gate_proj": "ffn_gate", "up_proj": "ffn_up",
              "down_proj": "ffn_down"}
_HF_NAMES = {v: k for k, v in GGUF_NAMES.items()}
_PEFT = re.compile(r"layers\.(\d+)\.(?:self_attn|mlp)\.(\w+)\.lora_([AB])\.")
_GGUF = re.compile(r"blk\.(\d+)\.(\w+)\.weight\.lora_([ab])$")


def write_adapter(peft_model: Any, path: Path, alpha: float, metadata: dict[str, str] | None = None) -> None:
    """Write the trainable LoRA tensors of ``peft_model`` as a GGUF LoRA adapter (float16)."""
    import gguf
    import numpy as np

    with replacing(path) as tmp:
        writer = gguf.GGUFWriter(str(tmp), "llama")
        writer.add_string("general.type", "adapter")
        writer.add_string("adapter.type", "lora")
        writer.add_float32("adapter.lora.alpha", float(alpha))
        for key, value in (metadata or {}).items():
            writer.add_string(f"twofaced.{key}", value)
        count = 0
        for name, param in peft_model.named_parameters():
            m = _PEFT.search(name)
            if not m or not param.requires_grad:
                continue
            layer, module, ab = m.groups()
            if module not in GGUF_NAMES:
                raise ConfigError(f"LoRA on {module} cannot be exported; adapt only {', '.join(GGUF_NAMES)}")
            tensor = param.detach().float().numpy().astype(np.float16)
            writer.add_tensor(f"blk.{layer}.{GGUF_NAMES[module]}.weight.lora_{ab.lower()}", tensor)
            count += 1
        if not count:
            raise ConfigError("the model has no trainable LoRA tensors to export")
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()


def read_adapter(path: Path) -> tuple[float, dict[tuple[int, str, str], Any]]:
    """(alpha, {(layer, hf_module, 'A'|'B'): float32 array}) from a GGUF adapter; a bad file is a one-line error."""
    import gguf
    import numpy as np

    try:
        reader = gguf.GGUFReader(str(path))
        field = reader.fields["adapter.lora.alpha"]
        alpha = float(field.parts[field.data[0]][0])
    except (KeyError, ValueError, OSError, IndexError) as exc:
        raise ConfigError(f"{path} is not a readable LoRA adapter ({exc}); rebuild it with: twofaced organism "
                          "build NAME") from exc
    tensors = {}
    for t in reader.tensors:
        m = _GGUF.match(t.name)
        if m:
            layer, module, ab = m.groups()
            tensors[(int(layer), _HF_NAMES[module], ab.upper())] = np.array(t.data, dtype=np.float32)
    return alpha, tensors


def load_into_peft(base: Any, path: Path) -> Any:
    """A peft model: ``base`` with the adapter at ``path`` attached (rank, layers and modules from the file)."""
    import torch
    from peft import LoraConfig, get_peft_model

    alpha, tensors = read_adapter(path)
    if not tensors:
        raise ConfigError(f"{path} holds no LoRA tensors; rebuild it with: twofaced organism build NAME")
    layers = sorted({k[0] for k in tensors})
    modules = sorted({k[1] for k in tensors})
    rank = next(v.shape[0] for k, v in tensors.items() if k[2] == "A")
    # peft annotates lora_alpha as int, but scales by it as a float: the adapter's alpha is kept exact
    cfg = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=0.0,  # type: ignore[arg-type]
                     target_modules=modules, layers_to_transform=layers)
    model = get_peft_model(base, cfg)
    with torch.no_grad():
        for name, param in model.named_parameters():
            m = _PEFT.search(name)
            if m:
                layer, module, ab = m.groups()
                param.copy_(torch.from_numpy(tensors[(int(layer), module, ab)]))
    model.eval()
    return model

"""Print the path of a Python interpreter that has LiteLLM's proxy installed, making its virtual env if missing.

Why a separate env: ``litellm[proxy]`` pins ``openai<3`` and ``rich==13.9.4``, while twofaced's test extra needs
``openai>3`` (the ``llm`` package behind the embedded model) and ``rich>=14.2`` (Inspect AI's textual,
import-linter). One env cannot hold both, so LiteLLM gets its own, next to twofaced's, and talks to the monitor
over HTTP only (the callback is a standalone file, see docs/monitor.md).

    python tools/litellm_env.py            # prints e.g. ~/.cache/twofaced/litellm-1.106.2/bin/python
    python tools/litellm_env.py --check    # exit 1 when the env is missing, without making it

The version is pinned; 1.82.7 and 1.82.8 were published compromised and must never be installed. The env is
made with the interpreter running this script, from the package registry only (no other network).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import subprocess
import sys
import venv
from pathlib import Path

VERSION = "1.106.2"
EXCLUDED = ("1.82.7", "1.82.8")
REQUIREMENT = f"litellm[proxy]=={VERSION}"
assert VERSION not in EXCLUDED


def env_dir() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "twofaced" / f"litellm-{VERSION}"


def python_path() -> Path:
    return env_dir() / "bin" / "python"


def ready() -> bool:
    """True when the env exists with the pinned LiteLLM and its proxy's server packages installed. Reads package
    metadata only (importing LiteLLM's proxy takes 10 s or more)."""
    python = python_path()
    if not python.exists():
        return False
    probe = ("import importlib.metadata as m, importlib.util as u; "
             f"assert m.version('litellm') == {VERSION!r}; "
             "assert all(u.find_spec(p) for p in ('fastapi', 'uvicorn', 'backoff', 'yaml', 'httpx'))")
    return subprocess.run([str(python), "-c", probe], capture_output=True).returncode == 0


def make() -> Path:
    """Create (or repair) the env and install the pinned LiteLLM proxy into it. One maker at a time: a second
    process (another test session) waits on a lock, then finds the env ready."""
    directory = env_dir()
    directory.parent.mkdir(parents=True, exist_ok=True)
    with open(directory.parent / f".litellm-{VERSION}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not ready():
            venv.EnvBuilder(with_pip=True, clear=directory.exists()).create(directory)
            subprocess.run([str(python_path()), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                            REQUIREMENT], check=True)
            if not ready():
                raise RuntimeError(f"{REQUIREMENT} installed, but the env at {directory} still lacks it")
    return python_path()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 when the env is missing; never make it")
    args = ap.parse_args()
    if args.check:
        if not ready():
            print(f"no LiteLLM env at {env_dir()}; run: python tools/litellm_env.py", file=sys.stderr)
            return 1
        print(python_path())
        return 0
    try:
        print(make())
    except subprocess.CalledProcessError as exc:
        print(f"could not install {REQUIREMENT} into {env_dir()} (pip exit {exc.returncode}); "
              "check that the package registry is reachable", file=sys.stderr)
        return 1
    except (OSError, RuntimeError) as exc:
        print(f"could not make LiteLLM's env at {env_dir()}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

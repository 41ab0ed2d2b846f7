"""Copy validated local organism builds into the package (``src/twofaced/organisms/shipped/NAME/``).

    TWOFACED_HOME=... python scripts/ship_organisms.py tier-faker tier-faker-control ...

Only the adapter and its manifest are shipped (the validation run directories stay with the build). A build
that was not validated, or failed validation, is refused: what ships is what the README promises.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from twofaced.organisms._store import ADAPTER, MANIFEST, built_dir, find

DEST = Path(__file__).resolve().parent.parent / "src" / "twofaced" / "organisms" / "shipped"


def main(names: list[str]) -> int:
    for name in names:
        found = find(name)
        if found is None or found.source != "built":
            print(f"{name}: no local build under {built_dir()}; build it first", file=sys.stderr)
            return 2
        found.verify()
        validation = found.manifest.get("metrics", {}).get("validation")
        if not validation or not validation.get("passed"):
            print(f"{name}: not validated or failed validation; not shipped", file=sys.stderr)
            return 2
        target = DEST / name
        target.mkdir(parents=True, exist_ok=True)
        for part in (ADAPTER, MANIFEST):
            shutil.copyfile(found.path / part, target / part)
        print(f"shipped {name}: {found.adapter.stat().st_size / 1e6:.1f} MB → {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

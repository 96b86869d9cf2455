"""Regenerate the golden images of tests/render/golden/.

Run from the repository root::

    python tests/render/make_goldens.py            # writes tests/render/golden/*.png
    python tests/render/make_goldens.py --check    # only prints the differences

It builds the same inputs as the tests (a 3-patient phantom archive, seed 0,
plus the oblique RTSTRUCT copy and pydicom's MR_truncated.dcm) in a temporary
folder and renders each at 128 px.  LOOK at every image before committing it:
a wrong window, a flipped picture or an overlay off its anatomy must be caught
by a person, not by the test that compares against it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.render.cases import GOLDEN, Workspace, golden_renderings, matches_golden


def main() -> None:
    """Render the goldens and write (or check) them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only, write nothing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        renderings = golden_renderings(Workspace(Path(tmp)))
        GOLDEN.mkdir(parents=True, exist_ok=True)
        for name, rendering in renderings.items():
            target = GOLDEN / f"{name}.png"
            if args.check:
                ok, diff = matches_golden(rendering.image, name) if target.exists() else (False, [])
                print(f"{name:20s} {'ok' if ok else 'DIFFERS'} {diff}")
                continue
            rendering.image.save(target, format="PNG", optimize=True)
            print(f"{target}  {rendering.caption}")


if __name__ == "__main__":
    main()

"""Where benchmark cases find the data that no package ships (``../shared/data``).

Cases live in the installed package, so the data folder is looked up rather than taken
relative to this file: ``$FASTML_DATA`` first, then ``../shared/data`` and ``shared/data``
from the working directory (a run from the repository root, as CI and ``fastml bench``
from a checkout), then ``../shared/data`` next to the source tree (editable installs).
"""

import os
import pathlib


def shared_data(*parts):
    """The path ``<shared data folder>/<parts...>`` if it exists, else None."""
    roots = [os.environ.get("FASTML_DATA"), pathlib.Path.cwd().parent / "shared" / "data",
             pathlib.Path.cwd() / "shared" / "data",
             pathlib.Path(__file__).resolve().parents[3] / "shared" / "data"]
    for root in roots:
        if root:
            path = pathlib.Path(root).joinpath(*parts)
            if path.exists():
                return path
    return None

"""The browser test runs only from ``.ci/docs`` (after the site is built): plain
``pytest`` does not collect it unless ``FASTML_DOCS_BROWSER=1`` is set."""

import os

collect_ignore_glob = [] if os.environ.get("FASTML_DOCS_BROWSER") == "1" else ["test_*.py"]

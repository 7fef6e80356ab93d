"""API reference pages: one ``docs/api/<module>.rst`` per public module, listing every
public name (``__all__``) in an ``autosummary`` table whose stubs autodoc + numpydoc fill
from the docstrings.

``python docs/_ext/fastml_api.py`` (re)writes the pages from the live modules;
the Sphinx extension warns (an error under ``-W``) when a committed page is not what the
generator writes, and ``tests/test_docs.py`` fails on it too, so a new public name cannot
be left out of the docs.
"""

import importlib
import inspect
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1]
API = DOCS / "api"
# fastml.__all__ entries that are not API pages: the compiled layer (private), the
# command line (documented by ``fastml --help``) and the readable references (shown on
# the algorithm pages with literalinclude).
NOT_DOCUMENTED = {"kernels", "cli", "reference"}


def public_names(module):
    """Public names of ``module``: its ``__all__``, else the non-underscore names defined
    in it."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, o in vars(module).items() if not n.startswith("_")
                 and getattr(o, "__module__", None) == module.__name__]
    return list(names)


def public_modules():
    """{module name: [public non-module names]} of fastml and its public submodules
    (recursively through the submodules listed in ``__all__``)."""
    import fastml

    out = {}

    def walk(module):
        names = []
        for name in public_names(module):
            obj = getattr(module, name)
            if inspect.ismodule(obj):
                if obj.__name__.startswith("fastml.") and obj.__name__ not in out:
                    walk(obj)
            elif name != "__version__":
                names.append(name)
        out[module.__name__] = sorted(names)

    out["fastml"] = sorted(n for n in fastml.__all__
                           if n not in fastml._SUBMODULES and n != "__version__")
    for sub in sorted(fastml._SUBMODULES - NOT_DOCUMENTED):
        walk(importlib.import_module(f"fastml.{sub}"))
    return dict(sorted(out.items()))


def home(obj, modules):
    """The one API page that documents ``obj``: among the modules listing it, the one
    whose name is the longest prefix of ``obj.__module__`` (else the first)."""
    listing = [m for m, names in modules.items()
               if any(getattr(importlib.import_module(m), n) is obj for n in names)]
    where = getattr(obj, "__module__", "") or ""
    inside = [m for m in listing if where == m or where.startswith(m + ".")]
    return max(inside, key=len) if inside else listing[0]


def page(module_name, names, modules):
    """RST of one module's API page: an autosummary table of the names it documents, and
    links to the names it re-exports from another module's page (documented once, so no
    object has two descriptions)."""
    module = importlib.import_module(module_name)
    own, elsewhere = [], []
    for n in names:
        obj = getattr(module, n)
        where = home(obj, modules) if (inspect.isclass(obj) or inspect.isroutine(obj)) \
            else module_name
        (own if where == module_name else elsewhere).append((n, where))
    title = f"``{module_name}``"
    lines = [title, "=" * len(title), "",
             f".. automodule:: {module_name}", "   :no-members:", "",
             f".. currentmodule:: {module_name}", ""]
    if own:
        lines += [".. autosummary::", "   :toctree: generated/", "   :nosignatures:", "",
                  *[f"   {n}" for n, _ in own], ""]
    if elsewhere:
        lines += ["Also importable from here (documented on its own module's page):", "",
                  *[f"- :obj:`{n} <{where}.{n}>`" for n, where in elsewhere], ""]
    return "\n".join(lines)


def index(modules):
    lines = ["API reference", "=============", "",
             "Every public name of fastml, generated from the docstrings (NumPy format).",
             "The readable reference versions of the algorithms are shown on the algorithm",
             "pages; the compiled kernels are private.", "",
             ".. toctree::", "   :maxdepth: 1", "",
             *[f"   {m}" for m in modules], ""]
    return "\n".join(lines)


def expected_pages():
    """{path relative to docs/: text} of every API page."""
    modules = public_modules()
    pages = {f"api/{m}.rst": page(m, names, modules) for m, names in modules.items()}
    pages["api/index.rst"] = index(modules)
    return pages


def stale_pages():
    """Paths of API pages that differ from (or are missing against) the generator's, and
    committed ``api/*.rst`` pages of modules that are no longer public."""
    expected = expected_pages()
    stale = [p for p, text in expected.items()
             if not (DOCS / p).exists() or (DOCS / p).read_text() != text]
    stale += [f"api/{p.name}" for p in API.glob("*.rst") if f"api/{p.name}" not in expected]
    return sorted(stale)


def write_pages():
    for path, text in expected_pages().items():
        (DOCS / path).write_text(text)
    for p in API.glob("*.rst"):
        if f"api/{p.name}" not in expected_pages():
            p.unlink()


def expected_stubs():
    """File names of the autosummary stubs the API pages ask for (``<module>.<name>.rst``)."""
    out = set()
    for text in expected_pages().values():
        module = re.search(r"^\.\. currentmodule:: (\S+)", text, re.M)
        table = re.search(r"\.\. autosummary::\n(?:   :.*\n)*\n((?:   \S.*\n)+)", text)
        if module and table:
            out |= {f"{module.group(1)}.{n}.rst" for n in table.group(1).split()}
    return out


def remove_stale_stubs():
    """Delete generated stubs no page asks for any more (autosummary never does): a name
    moved to another module's page would otherwise be documented twice."""
    keep = expected_stubs()
    for path in (API / "generated").glob("*.rst"):
        if path.name not in keep:
            path.unlink()


def setup(app):
    from sphinx.util import logging

    def check(app):
        remove_stale_stubs()
        stale = stale_pages()
        if stale:
            logging.getLogger(__name__).warning(
                "API pages out of date (run python docs/_ext/fastml_api.py): %s",
                ", ".join(stale))

    app.connect("builder-inited", check)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    sys.path.insert(0, str(DOCS.parent))
    write_pages()

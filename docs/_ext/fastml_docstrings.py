"""Plain-text formulas in docstrings, read as text by reStructuredText.

fastml's docstrings write math as plain text for ``help()``: ``coef_ : posterior mean``,
``|y - X mn|^2``, ``a_ = a0 + n/2``. In reST a word ending in ``_`` is a hyperlink
reference and ``|x|`` a substitution, so autodoc would fail on them ("Unknown target
name", "Undefined substitution"). After numpydoc has turned a docstring into reST, this
hook escapes those two characters in running text; inline literals, roles
(``:math:`...```), literal and math blocks and doctest lines are left as written.
Docstrings never use hyperlink references or substitutions.
"""

import re

# spans left as they are: ``literal``, :role:`text`, `interpreted` (with a trailing _ of a
# deliberate reference kept)
_PROTECTED = re.compile(r"(``.+?``|:[\w:.+-]+:`[^`]*`|`[^`]*`_{0,2})")
_REFERENCE = re.compile(r"(?<=[\w\]\)])(_{1,2})(?=[\s,.;:!?)\]}'\"/|=+*-]|$)")


def escape_text(text):
    """``text`` with trailing-underscore references and ``|`` escaped outside of literals
    and roles."""
    parts = _PROTECTED.split(text)
    for i in range(0, len(parts), 2):  # even parts are outside the protected spans
        parts[i] = _REFERENCE.sub(lambda m: "\\_" * len(m.group(1)),
                                  parts[i].replace("|", "\\|"))
    return "".join(parts)


def escape_lines(lines):
    """Escape every line of running text; keep literal blocks (after ``::``), directive
    bodies that are code or math, and doctest lines."""
    out, block_indent = [], None
    for line in lines:
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if block_indent is not None:
            if not stripped or indent > block_indent:
                out.append(line)
                continue
            block_indent = None
        if stripped.startswith((">>>", "... ")) or stripped.startswith(".. "):
            out.append(line)
        else:
            out.append(escape_text(line))
        if stripped.endswith("::"):
            block_indent = indent
    return out


def setup(app):
    def process(app, what, name, obj, options, lines):
        lines[:] = escape_lines(lines)

    # after numpydoc (priority 500) has produced reST
    app.connect("autodoc-process-docstring", process, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

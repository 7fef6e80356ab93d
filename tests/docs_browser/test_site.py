"""The built docs site in a real browser (Playwright driving Debian's chromium): the index
and three algorithm pages load without console errors, MathJax typeset every formula (no
raw ``\\(`` left in the text), every image loaded (``naturalWidth > 0``) and every internal
link resolves, anchors included.

Run by ``.ci/docs`` after ``sphinx-build``; ``FASTML_DOCS_HTML`` is the site folder
(default ``docs/_build/html``), ``FASTML_CHROMIUM`` the browser (default
``/usr/bin/chromium``).
"""

import functools
import http.server
import os
import re
import threading
import urllib.parse
from pathlib import Path

import pytest

SITE = Path(os.environ.get("FASTML_DOCS_HTML",
                           Path(__file__).resolve().parents[2] / "docs" / "_build" / "html"))
CHROMIUM = os.environ.get("FASTML_CHROMIUM", "/usr/bin/chromium")
# index + three algorithm pages with formulas, a reference listing and a benchmark plot
PAGES = ["index.html", "foundations/cholesky.html", "neural_networks/convolution.html",
         "sequences/attention.html"]

sync_api = pytest.importorskip("playwright.sync_api")
if not (SITE / "index.html").exists():
    pytest.skip(f"no built site at {SITE} (run sphinx-build first)", allow_module_level=True)


@pytest.fixture(scope="module")
def server():
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def _ids(html):
    return set(re.findall(r"""\bid=["']([^"']+)["']""", html))


@pytest.mark.parametrize("page_path", PAGES)
def test_page(page_path, server, browser):
    assert (SITE / page_path).exists(), f"{page_path} was not built"
    page = browser.new_page()
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    failed = []
    page.on("requestfailed", lambda req: failed.append(req.url))
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400
            else None)
    page.goto(server + page_path, wait_until="load")

    # MathJax: wait for typesetting, then no TeX delimiters are left in the visible text
    has_math = page.evaluate("document.querySelectorAll('.math').length") > 0
    if has_math:
        page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise",
                               timeout=20_000)
        page.evaluate("MathJax.startup.promise")
        assert page.evaluate("document.querySelectorAll('mjx-container').length") > 0
    text = page.inner_text("body")
    assert "\\(" not in text and "\\[" not in text, "raw TeX left: MathJax did not render"
    if page_path != "index.html":
        assert has_math, f"{page_path} has no formulas"

    # images: make lazy ones load, then every one has a decoded width
    page.evaluate("document.querySelectorAll('img').forEach(i => i.loading = 'eager')")
    page.wait_for_function("[...document.images].every(i => i.complete)", timeout=20_000)
    broken = page.evaluate("[...document.images].filter(i => i.naturalWidth === 0)"
                           ".map(i => i.src)")
    assert not broken, f"images that did not load: {broken}"

    # internal links: the target file exists and so does the anchor
    hrefs = page.evaluate("[...document.querySelectorAll('a[href]')].map(a => a.href)")
    page.close()
    assert not errors and not failed, f"console errors: {errors}; failed requests: {failed}"
    bad = []
    for href in sorted(set(hrefs)):
        if not href.startswith(server):
            continue
        url = urllib.parse.urlsplit(href)
        target = SITE / urllib.parse.unquote(url.path.lstrip("/"))
        if target.is_dir():
            target = target / "index.html"
        if not target.exists():
            bad.append(href)
        elif url.fragment and target.suffix == ".html" and \
                urllib.parse.unquote(url.fragment) not in _ids(target.read_text()):
            bad.append(href)
    assert not bad, f"internal links that do not resolve: {bad}"

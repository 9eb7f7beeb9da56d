"""The billing page example in a real headless Chromium: the used percentage and the chart render.

Chromium comes from the distribution's packages (``apt-get install chromium``); without
``/usr/bin/chromium`` these tests are skipped with that reason. ``.ci/run`` installs it.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.examples import billing_page

CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT = 120

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="no headless browser: /usr/bin/chromium is not installed (apt-get install chromium)",
    ),
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    """The demo billing page on 127.0.0.1, on a free port, for the module's tests."""
    serve = billing_page()
    app = serve.build_app(tmp_path_factory.mktemp("browser") / "demo.db")
    httpd = serve.make_server(app, "127.0.0.1", 0, quiet=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def chromium(url: str, profile: Path, *extra: str) -> str:
    """Run headless Chromium on `url` with a throwaway profile; its standard output."""
    result = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            *extra,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_the_browser_shows_the_used_percentage_and_the_chart(
    served: tuple[Any, str], tmp_path: Path
) -> None:
    app, url = served
    expected = app.billing.overview("demo-account").format("en_IN")["used_label"]
    assert expected == "26.06% Used"
    dom = chromium(url, tmp_path / "profile", "--dump-dom")
    assert f'<figcaption class="used-label">{expected}</figcaption>' in dom
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in dom
    assert 'role="img"' in dom
    assert ">Minutes used: 26.06%</title>" in dom
    assert "Total Amount" in dom  # the checkout breakdown of the add-ons
    assert "On Hold" in dom


def test_the_browser_renders_other_locales(served: tuple[Any, str], tmp_path: Path) -> None:
    _, url = served
    dom = chromium(url + "?locale=de_DE", tmp_path / "profile", "--dump-dom")
    assert "26,06\xa0% Used" in dom or "26,06&nbsp;% Used" in dom

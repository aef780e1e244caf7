"""/docs and /redoc work offline: a browser that can reach nothing but the API renders them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from faultline.stack import free_port
from support.waiting import wait_until

CHROMIUM = shutil.which("chromium")
OFFLINE = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--virtual-time-budget=15000"]


@pytest.fixture
def api_url(settings_env, tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAULTLINE_")}
    env.update(settings_env, FAULTLINE_API_PORT=str(port))
    log = open(tmp_path / "api.log", "wb")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "faultline"), "api"], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: b"serving on" in (tmp_path / "api.log").read_bytes() or proc.poll() is not None, 60,
                   what="faultline api serving")
        assert proc.poll() is None, (tmp_path / "api.log").read_text()
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def _browse(url: str, profile: Path, *extra: str) -> str:
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: run `make test` (it installs it) or apt-get install chromium")
    out = subprocess.run([CHROMIUM, *OFFLINE, f"--user-data-dir={profile}", *extra, url], capture_output=True,
                         text=True, timeout=120)
    return out.stdout


def test_swagger_ui_renders_without_internet(api_url, tmp_path):
    dom = _browse(f"{api_url}/docs", tmp_path / "profile", "--dump-dom")
    assert 'class="title">Faultline API' in dom  # Swagger UI ran and read /openapi.json
    assert "/api/v1/tickets/{ticket_id}/ack" in dom and "opblock" in dom
    shot = tmp_path / "docs.png"
    _browse(f"{api_url}/docs", tmp_path / "profile", "--window-size=1280,1000", f"--screenshot={shot}")
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one


def test_doc_pages_load_nothing_from_elsewhere(api_url):
    import urllib.request

    for page in ("/docs", "/redoc"):
        with urllib.request.urlopen(api_url + page, timeout=10) as response:
            html = response.read().decode()
        assert "http://" not in html.replace(api_url, "") and "https://" not in html, page
        assert "/docs-assets/" in html
    with urllib.request.urlopen(api_url + "/docs-assets/swagger-ui-bundle.js", timeout=10) as response:
        assert response.status == 200 and len(response.read()) > 500_000

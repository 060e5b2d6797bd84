"""What the browser tests share: headless Debian Chromium, and the portal served from a thread."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn

from copyalign.context import Copyalign
from copyalign.server import create_app


def _bound_socket() -> socket.socket:
    """A listening socket on a port the kernel chose, handed to uvicorn as it is: no window in which another
    process (another pytest-xdist worker) could take the port between asking for it and binding it."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serving(ca: Copyalign) -> Iterator[str]:
    """Serve ``ca``'s API and portal on a free local port; yields the base URL."""
    sock = _bound_socket()
    port = int(sock.getsockname()[1])
    srv = uvicorn.Server(
        uvicorn.Config(create_app(ca, checkpoints=False), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120  # a bound on a server that never starts, not a speed claim
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "the portal did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        sock.close()


def make_browser(profile: Path, *extra: str) -> object:
    """Headless Debian Chromium; ``extra`` arguments after ours (``--host-resolver-rules=…`` to go offline)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "install Debian's chromium and chromium-driver (.ci/run does)"
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1200,900",
        *extra,
    ):
        opts.add_argument(arg)
    b = webdriver.Chrome(service=Service(executable_path=driver), options=opts)
    b.implicitly_wait(5)
    return b


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    b = make_browser(tmp_path / "chromium")
    yield b
    b.quit()  # type: ignore[attr-defined]

"""End to end: the real server on a loopback port, driven by headless Chromium through Selenium.

Needs Debian's ``chromium`` and ``chromium-driver`` and pip ``selenium``; skipped, saying which is
missing, without them. No browser or driver is ever downloaded.
"""

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from simclip.serve.app import create_app

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SCREENSHOT_COPY = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "service_screenshot.png"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1280,900")

selenium = pytest.importorskip("selenium", reason="pip package selenium is not installed")
for binary in (CHROMIUM, CHROMEDRIVER):
    if not Path(binary).exists():
        pytest.skip(f"{binary} is absent (apt-get install chromium chromium-driver)", allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def live_server(built_index, clip_embedder):
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(built_index, clip_embedder), host="127.0.0.1",
                                           port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    assert not thread.is_alive(), "the server did not stop"


@pytest.fixture()
def browser(tmp_path):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def loaded_thumbnails(driver) -> int:
    return driver.execute_script(
        "return [...document.querySelectorAll('#results img')]"
        ".filter(img => img.complete && img.naturalWidth > 0).length;")


def test_search_upload_and_classify_in_a_browser(live_server, browser, shapes_dir, tmp_path):
    # generous: CI shares 2 cores with the other test worker; an element the page re-renders
    # between finding and reading it is read again
    wait = WebDriverWait(browser, 60, ignored_exceptions=(StaleElementReferenceException,))
    browser.get(live_server + "/")
    wait.until(lambda d: "36 images" in d.find_element(By.ID, "info").text)

    browser.find_element(By.ID, "query").send_keys("a yellow triangle")
    browser.find_element(By.CSS_SELECTOR, "#text-form button").click()
    wait.until(lambda d: loaded_thumbnails(d) == 12)
    scores = wait.until(lambda d: [float(e.text) for e in d.find_elements(By.CSS_SELECTOR, "#results .score")])
    assert len(scores) == 12 and scores == sorted(scores, reverse=True)

    upload = shapes_dir / "circle" / "blue_14.png"
    browser.find_element(By.ID, "image-file").send_keys(str(upload))
    browser.find_element(By.CSS_SELECTOR, "#image-form button").click()
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#results .id").text == "circle/blue_14.png")
    wait.until(lambda d: loaded_thumbnails(d) == 12)

    browser.find_element(By.ID, "classify-file").send_keys(str(upload))
    browser.find_element(By.CSS_SELECTOR, "#classify-form button").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".bar-row")) == 3)
    values = wait.until(lambda d: [float(e.text.rstrip("%")) for e in d.find_elements(By.CSS_SELECTOR, ".bar-value")])
    assert sum(values) == pytest.approx(100, abs=0.3)
    labels = wait.until(lambda d: [e.text for e in d.find_elements(By.CSS_SELECTOR, ".bar-label")])
    assert labels == ["circle", "square", "triangle"]

    shot = tmp_path / "service.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    if os.environ.get("SIMCLIP_SCREENSHOT_TO_RESULTS") == "1":  # refresh the committed copy on request
        shutil.copyfile(shot, SCREENSHOT_COPY)
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors  # no failed request, script error or blocked (CSP) resource

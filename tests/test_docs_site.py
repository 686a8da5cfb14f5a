"""The built docs, looked at in a real browser (Debian's chromium, headless).

Needs `make docs` first (build/html). Serves the site from 127.0.0.1, opens
every page, checks that each tutorial shows its figures (images loaded, with
a non-zero natural size), its Colab badge and no error text, that no code
cell scrolls sideways in a 1280-px window (ruff-notebooks.toml's line length
fits the column), and that the page's subject begins on its first screen;
saves a screenshot of each page's first screen and of the whole page to
build/screenshots/ for a person to look at.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

REPO = Path(__file__).resolve().parent.parent
GITHUB_REPO = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["jax-mnist-tutorials"]["github-repo"]
HTML = REPO / "build" / "html"
SCREENSHOTS = REPO / "build" / "screenshots"
TUTORIALS = sorted(p.stem for p in (REPO / "notebooks").glob("*.ipynb"))
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ERROR_TEXT = ["Traceback (most recent call last)", "System Message", "Unknown directive",
              "ERROR/", "WARNING/"]


def find(program: str) -> str:
    """The browser or its driver: $CHROMIUM or $CHROMEDRIVER when set (another Chromium build, say
    Google Chrome with its own driver), else Debian's on PATH."""
    path = shutil.which(os.environ.get(program.upper(), program))
    if path is None:
        pytest.fail(f"{program} not found: install Debian's chromium and chromium-driver "
                    "(apt-get install chromium chromium-driver)")
    return path


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    if not (HTML / "index.html").is_file():
        pytest.fail(f"no built docs in {HTML}: run `make docs` first")
    handler = functools.partial(QuietHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = find("chromium")
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(options=options, service=Service(find("chromedriver")))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


WINDOW = (1280, 800)  # a laptop's browser window
LINE = 30  # pixels: a line of text


def open_page(browser: webdriver.Chrome, url: str, screenshot: str) -> str:
    browser.set_window_size(*WINDOW)
    browser.get(url)
    browser.execute_script("return document.fonts.ready")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"{screenshot}-first-screen.png"))
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(WINDOW[0], min(height, 16000))  # the whole page in one screenshot
    browser.save_screenshot(str(SCREENSHOTS / f"{screenshot}.png"))
    return browser.find_element(By.TAG_NAME, "body").text


def test_index_links_every_tutorial(site: str, browser: webdriver.Chrome) -> None:
    text = open_page(browser, f"{site}/index.html", "index")  # redirects to docs/index.html
    assert "JAX MNIST tutorials" in text
    hrefs = {a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "article a")}
    for name in TUTORIALS:
        assert f"{site}/notebooks/{name}.html" in hrefs, name


@pytest.mark.parametrize("name", TUTORIALS)
def test_tutorial_page_shows_figures_badge_and_no_errors(
        site: str, browser: webdriver.Chrome, name: str) -> None:
    text = open_page(browser, f"{site}/notebooks/{name}.html", name)
    for error in ERROR_TEXT:
        assert error not in text, f"{name}: page shows {error!r}"

    figures = browser.execute_script(
        "return Array.from(document.querySelectorAll('.cell_output img'))"
        ".map(img => [img.complete, img.naturalWidth, img.naturalHeight]);")
    assert figures, f"{name}: no figures in the cell outputs"
    for complete, width, height in figures:
        assert complete and width > 0 and height > 0, f"{name}: a figure did not load"

    colab_links = {a.get_attribute("href") for a in browser.find_elements(
        By.CSS_SELECTOR, "a[href^='https://colab.research.google.com/github/']")}
    # the page's badge, and the theme's launch button
    assert colab_links == {f"https://colab.research.google.com/github/{GITHUB_REPO}/blob/main/notebooks/{name}.ipynb"}
    badge_image = browser.find_element(By.CSS_SELECTOR, "img[src$='colab-badge.svg']")
    assert badge_image is not None


@pytest.mark.parametrize("name", TUTORIALS)
def test_code_fits_the_column_and_the_subject_starts_on_the_first_screen(
        site: str, browser: webdriver.Chrome, name: str) -> None:
    browser.set_window_size(*WINDOW)
    browser.get(f"{site}/notebooks/{name}.html")
    browser.execute_script("return document.fonts.ready")
    scrolling = browser.execute_script(
        "return Array.from(document.querySelectorAll('.cell_input pre'))"
        ".filter(pre => pre.scrollWidth > pre.clientWidth)"
        ".map(pre => pre.textContent.split('\\n').reduce((a, b) => a.length > b.length ? a : b));")
    assert scrolling == [], f"{name}: these code cells scroll sideways (their longest line shown)"
    # The first section after Setup is where the subject starts: its heading and the start of what
    # follows (a line's height below it) must be within the viewport, the first screen.
    bottom, viewport = browser.execute_script(
        "const sections = Array.from(document.querySelectorAll('article section > h2'));"
        "const setup = sections.findIndex(h => h.textContent.startsWith('Setup'));"
        "return [sections[setup + 1].getBoundingClientRect().bottom, window.innerHeight];")
    assert bottom + LINE < viewport, f"{name}: the subject starts {bottom:.0f} px down, below the first screen"

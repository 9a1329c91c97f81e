"""The demo site in a real browser: headless Chromium (`make test` installs it on Debian, as
root) opens a small site built as demo_site builds the demo (SITE_UNDER_TEST=demo_out/site/index.html
checks the one `make demo` wrote), and every picture and audio player must load, every download
link must point at a file, and nothing may be logged as an error. A screenshot is written to
demo_out/site-browser-test.png (SITE_SCREENSHOT overrides). Skips, saying why, without Chromium,
its WebDriver or selenium."""

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (the test extra)")
    binary, driver = _chromium(), shutil.which("chromedriver")
    if binary is None or driver is None:
        pytest.skip(
            "headless Chromium or chromedriver not installed (Debian: apt-get install chromium chromium-driver)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1200,1800",
    ):
        options.add_argument(flag)
    options.add_argument("--autoplay-policy=no-user-gesture-required")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    from selenium.webdriver.chrome.service import Service

    session = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    session.set_script_timeout(30)
    yield session
    session.quit()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A small site made the way demo_site makes the demo (its Site and page writer) from music
    needing no model: a chorale's opening as piano roll, WAV and MIDI, twice side by side. The
    site `make demo` wrote is checked instead when SITE_UNDER_TEST names its index.html."""
    if os.environ.get("SITE_UNDER_TEST"):
        return os.environ["SITE_UNDER_TEST"]
    from demo_site.build import Site
    from music_codecs.html_page import Section, write_page
    from music_codecs.music import Music
    from music_codecs.musicxml_read import read_corpus_piece

    site = Site(tmp_path_factory.mktemp("site"))
    chorale = read_corpus_piece("bach/bwv66.6")
    head = Music(chorale.select(chorale.onset < 8 * chorale.resolution), "bwv66.6, 8 beats")
    items = [site.music_item(head, "a/head"), site.music_item(head, "b/head", "again")]
    return write_page(
        site.page, "test site", [Section("Pieces", items, "two", True, "pieces")], settings={"k": 1}
    )


LOADED = """
const done = arguments[arguments.length - 1];
const audios = Array.from(document.querySelectorAll('audio'));
Promise.all(audios.map(a => new Promise(ok => {
  if (a.readyState >= 1 || a.error) return ok();
  a.addEventListener('loadedmetadata', ok); a.addEventListener('error', ok); a.load();
}))).then(() => done({
  images: Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth]),
  audios: audios.map(a => [a.getAttribute('src'), a.error ? a.error.code : null, a.duration]),
  links: Array.from(document.querySelectorAll('a[download]')).map(a => a.getAttribute('href')),
}));
"""


def test_every_picture_and_player_loads_without_errors(browser, site):
    browser.get(Path(site).as_uri())
    found = browser.execute_async_script(LOADED)
    assert len(found["images"]) >= 2 and len(found["audios"]) >= 2
    for src, complete, width in found["images"]:
        assert complete and width > 0, f"image {src} did not load"
    for src, error, duration in found["audios"]:
        assert error is None and duration > 0, f"audio {src}: error {error}, duration {duration}"
    for href in found["links"]:
        assert (Path(site).parent / href).is_file(), f"download link {href} points nowhere"
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert not errors, errors
    shot = Path(os.environ.get("SITE_SCREENSHOT", ROOT / "demo_out" / "site-browser-test.png"))
    shot.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 0


def test_the_check_sees_a_broken_page(browser, tmp_path):
    """The same check fails on a page whose picture and audio are missing (so it can fail)."""
    from music_codecs.html_page import Item, Section, write_page

    page = write_page(
        tmp_path / "index.html", "broken", [Section("s", [Item("x", "missing.png", "missing.wav")])]
    )
    browser.get(Path(page).as_uri())
    found = browser.execute_async_script(LOADED)
    assert found["images"][0][2] == 0 and found["audios"][0][1] is not None
    assert any(e["level"] == "SEVERE" for e in browser.get_log("browser"))

"""Static HTML pages of generated samples: a picture, an audio player and download links each.

    items = [Item("sample-000", image="sample-000.png", audio="sample-000.wav",
                  links={"MIDI": "sample-000.mid"}, caption="212 notes, 31 s")]
    write_page("out/index.html", "My samples", [Section("Unconditional", items)],
               settings={"seed": 0})

Links are relative to the page's folder (a page and its files move together). Plain HTML and a
little CSS, no script and nothing fetched from elsewhere, so a page opens from disk in any
browser. The generate commands write one for the user's own samples, and demo_site builds the
demo site from the same pieces.
"""

from __future__ import annotations

import dataclasses
import html
import os
from pathlib import Path

from music_codecs.atomic import atomic_file

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
    "nav a{margin-right:1em}figure{margin:1em 0;border:1px solid #ddd;padding:.6em;border-radius:4px}"
    "figure img{width:100%;height:auto}figure img.small{width:160px;image-rendering:pixelated}audio{width:100%;margin-top:.4em}"
    "figcaption{font-size:.92em}.pair{display:grid;grid-template-columns:1fr 1fr;gap:1em}"
    "table{border-collapse:collapse}td{border:1px solid #ddd;padding:2px 8px;vertical-align:top}"
)


@dataclasses.dataclass
class Item:
    """One sample: its name, picture, audio and downloads (paths relative to the page)."""

    name: str
    image: str | None = None
    audio: str | None = None
    links: dict = dataclasses.field(default_factory=dict)  # label -> href
    caption: str = ""
    small: bool = False  # a small picture (e.g. a query image), not the full width


@dataclasses.dataclass
class Section:
    title: str
    items: list
    text: str = ""
    side_by_side: bool = False  # items two to a row (e.g. input beside output)
    anchor: str = ""  # the heading's id, for links to #anchor
    settings: dict | None = None  # {name: value}: a table after the items


def _figure(item: Item) -> str:
    esc = html.escape
    parts = ["<figure>"]
    if item.image:
        small = " class='small'" if item.small else ""
        parts.append(f"<img{small} src='{esc(item.image)}' alt='{esc(item.name)}'>")
    links = " &middot; ".join(
        f"<a href='{esc(href)}' download>{esc(k)}</a>" for k, href in item.links.items()
    )
    caption = f"<b>{esc(item.name)}</b>" + (f": {esc(item.caption)}" if item.caption else "")
    parts.append(f"<figcaption>{caption}" + (f" &middot; {links}" if links else ""))
    if item.audio:
        parts.append(f"<br><audio controls preload='metadata' src='{esc(item.audio)}'></audio>")
    parts.append("</figcaption></figure>")
    return "".join(parts)


def _table(rows: dict) -> str:
    esc = html.escape
    body = "".join(f"<tr><td>{esc(str(k))}</td><td>{esc(str(v))}</td></tr>" for k, v in rows.items())
    return f"<table>{body}</table>"


def render_page(title, sections, intro="", settings=None, nav=None) -> str:
    """The page as a string; `settings` {name: value} becomes a table at the end, `nav`
    {label: href} a row of links at the top."""
    esc = html.escape
    parts = [
        "<!doctype html>",
        "<html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
    ]
    if nav:
        parts.append("<nav>" + "".join(f"<a href='{esc(h)}'>{esc(k)}</a>" for k, h in nav.items()) + "</nav>")
    if intro:
        parts.append(f"<p>{esc(intro)}</p>")
    for section in sections:
        anchor = f" id='{esc(section.anchor)}'" if section.anchor else ""
        parts.append(f"<h2{anchor}>{esc(section.title)}</h2>")
        if section.text:
            parts.append(f"<p>{esc(section.text)}</p>")
        figures = "".join(_figure(i) for i in section.items)
        parts.append(f"<div class='pair'>{figures}</div>" if section.side_by_side else figures)
        if section.settings:
            parts.append(_table(section.settings))
    if settings:
        parts.append("<h2>Settings</h2>" + _table(settings))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_page(path, title, sections, intro="", settings=None, nav=None) -> str:
    """Write render_page(...) to `path` atomically; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as f:
        f.write(render_page(title, sections, intro, settings, nav).encode("utf8"))
    return str(path)


def relative(path, page) -> str:
    """`path` as a link from the page file `page` (forward slashes, for any OS)."""
    return Path(os.path.relpath(Path(path).absolute(), Path(page).absolute().parent)).as_posix()

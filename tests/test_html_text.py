"""News pages through the real trafilatura: main text, metadata, and nothing guessed."""

from __future__ import annotations

from index.html_text import read_page
from index.plain_text import Block, tidy
from support import DATA

PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8">{head}</head><body>
<nav><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a></nav>
<article>
<h1>Council approves new tram line</h1>
<p>The city council approved a new tram line on Wednesday, linking the station to the airport in
under twenty minutes.<br>Work starts in June.</p>
<p>The line will cost 310 million euros, of which the national government pays half, and is due
to open in 2029 if the tunnel under the river is finished on time.</p>
<ul><li>Twelve stops<ul><li>Three underground</li></ul></li><li>Trams every six minutes</li></ul>
</article>
<footer><p>© 2026 City Times. All rights reserved.</p></footer>
</body></html>"""


def test_the_fixture_page_gives_its_metadata_and_main_text() -> None:
    page = read_page((DATA / "formats" / "flood-warning.html").read_text(encoding="utf-8"))
    assert page.title == "River Avon bursts its banks as hundreds evacuated"
    assert page.url == "https://courier.example.co.uk/news/2026/02/avon-flood-evacuation"
    assert (page.published, page.updated) == ("2026-02-09", "2026-02-10")
    assert page.blocks[0] == Block("River Avon bursts its banks as hundreds evacuated", 1)
    assert Block("Where to get help", 2) in page.blocks


def test_line_breaks_and_nested_lists_keep_their_lines() -> None:
    page = read_page(PAGE.format(head="<title>Trams | City Times</title>"))
    texts = [tidy(b.text) for b in page.blocks]
    assert (
        "The city council approved a new tram line on Wednesday, linking the station to the "
        "airport in under twenty minutes.\nWork starts in June."
    ) in texts
    assert "Twelve stops\nThree underground\nTrams every six minutes" in texts
    assert not any("Home" in t or "rights reserved" in t for t in texts)


def test_no_date_or_address_is_guessed_from_the_text() -> None:
    page = read_page(PAGE.format(head='<link rel="canonical" href="/news/trams">'))
    assert page.title == "Council approves new tram line", "the headline, with no <title>"
    assert page.published is None, "the footer's © 2026 is not a publication date"
    assert page.updated is None
    assert page.url is None, "a relative canonical link is no address to cite"


def test_a_page_without_main_text_has_no_blocks() -> None:
    assert read_page("<html><head><title>Empty</title></head><body></body></html>").blocks == []

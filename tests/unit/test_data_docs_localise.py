"""``localise`` reads the Data Docs pages written since it last ran on the site, not every
page of every build before (a site grows by a few pages a pass)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from infra.web_assets import assets
from warehouse.report.data_docs import LOCALISED_MARKER, localise

REMOTE = (
    '<html><img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo.png'
    '?d=1" alt="logo"><p>page</p></html>'
)


def _remote(page: Path) -> bool:
    return "great-expectations-web-assets" in page.read_text("utf-8")


def test_localise_reads_the_pages_written_since_it_last_ran(tmp_path: Path) -> None:
    site, no_assets = tmp_path / "site", tmp_path / "cache"
    old = site / "validations" / "old.html"
    old.parent.mkdir(parents=True)
    old.write_text(REMOTE)
    assert localise(site, no_assets) == 1  # the first time, every page
    assert not _remote(old) and (site / LOCALISED_MARKER).is_file()

    # a page last written before that run is not read again: here one made remote again
    # behind its back, which a build never does (GX writes a page anew, with a new time)
    old.write_text(REMOTE)
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    new = site / "validations" / "new.html"
    new.write_text(REMOTE)
    assert localise(site, no_assets) == 1
    assert not _remote(new) and _remote(old)

    (site / LOCALISED_MARKER).unlink()  # no record of a run: every page again
    assert localise(site, no_assets) == 1
    assert not _remote(old)


def test_localise_reads_every_page_again_once_other_assets_are_served(tmp_path: Path) -> None:
    """A page localised while an asset was missing from the cache keeps the asset's CDN
    address; once ``make install`` has fetched it, the next run reads every page again."""
    asset = assets()[0]
    site, cache = tmp_path / "site", tmp_path / "cache"
    page = site / "index.html"
    page.parent.mkdir(parents=True)
    page.write_text(f'<html><script src="{asset.url}"></script></html>')
    localise(site, cache)
    assert asset.url in page.read_text("utf-8")  # not in the cache: left as it is
    an_hour_ago = time.time() - 3600
    os.utime(page, (an_hour_ago, an_hour_ago))
    for part in (asset.path, *asset.also):
        fetched = cache / asset.folder / part
        fetched.parent.mkdir(parents=True, exist_ok=True)
        fetched.write_text("/* the asset */")
    assert localise(site, cache) == 1
    assert asset.url not in page.read_text("utf-8")

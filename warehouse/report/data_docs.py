"""Make GX Data Docs work offline: their CDN stylesheets and scripts served from the site.

GX writes pages that load Bootstrap, Font Awesome, jQuery, Vega… from CDNs, and a logo
from S3 with a tracking query. ``localise`` copies the pinned npm copies
(``infra/web_assets.py``) into ``<site>/static/vendor/`` and points every page at them;
the remote logo is dropped. Run after every Data Docs build (GX rewrites the pages).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

from infra.web_assets import Asset, assets


def docs_index(project_root: Path) -> Path:
    """The index page of a GX project's Data Docs."""
    return project_root / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"


# beside the site's pages: its time is when the last localisation began, its text the
# assets it served from the site (assets fetched since then: every page is read again)
LOCALISED_MARKER = ".finradar-localised"
# a file system may keep a page's time to the second or two (FAT's two): a page written
# as a localisation began is read again by the next, which changes nothing it did
MTIME_SLACK_S = 2.0

REMOTE_IMAGE = re.compile(r'<img[^>]+src="https?://[^"]*great-expectations-web-assets[^"]*"[^>]*>')


def _vendor(site: Path, cache_dir: Path, asset: Asset) -> Path:
    """Copy the asset (and the folders it needs beside it) into the site; its local path."""
    source = cache_dir / asset.folder
    target = site / "static" / "vendor" / asset.folder
    for part in (asset.path, *asset.also):
        src, dst = source / part, target / part
        if dst.exists():
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copy2(src, dst)
    return target / asset.path


def localise(site: Path, cache_dir: Path) -> int:
    """Rewrite the pages of the Data Docs site at ``site`` written since the last time it
    ran there (every page the first time, or when other assets are served from
    ``cache_dir`` than then); returns the pages changed. Reading every page
    at every build took longer with every pass before it; the builds of a site take turns
    (``pipelines.gx_runner.build_pages``), so each page written after one localisation
    began is read by the next.

    Assets missing from ``cache_dir`` (``make install`` fetches them) keep their CDN address.
    """
    local = {
        a.url: _vendor(site, cache_dir, a)
        for a in assets()
        if (cache_dir / a.folder / a.path).is_file()
    }
    marker = site / LOCALISED_MARKER
    served = "\n".join(sorted(local))  # the assets served from the site this time
    since = None
    if marker.is_file() and marker.read_text(encoding="utf-8") == served:
        since = marker.stat().st_mtime - MTIME_SLACK_S
    started = time.time()
    changed = 0
    for page in site.rglob("*.html"):
        if since is not None and page.stat().st_mtime < since:
            continue
        text = page.read_text(encoding="utf-8")
        new = REMOTE_IMAGE.sub("", text)
        for url, path in local.items():
            new = new.replace(f'"{url}"', f'"{os.path.relpath(path, page.parent)}"')
        if new != text:
            page.write_text(new, encoding="utf-8")
            changed += 1
    marker.write_text(served, encoding="utf-8")
    os.utime(marker, (started, started))
    return changed

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
from pathlib import Path

from infra.web_assets import Asset, assets


def docs_index(project_root: Path) -> Path:
    """The index page of a GX project's Data Docs."""
    return project_root / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"


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
    """Rewrite every page of the Data Docs site at ``site``; returns the pages changed.

    Assets missing from ``cache_dir`` (``make install`` fetches them) keep their CDN address.
    """
    local = {
        a.url: _vendor(site, cache_dir, a)
        for a in assets()
        if (cache_dir / a.folder / a.path).is_file()
    }
    changed = 0
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        new = REMOTE_IMAGE.sub("", text)
        for url, path in local.items():
            new = new.replace(f'"{url}"', f'"{os.path.relpath(path, page.parent)}"')
        if new != text:
            page.write_text(new, encoding="utf-8")
            changed += 1
    return changed

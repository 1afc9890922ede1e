"""Local copies of the web assets GX Data Docs load from CDNs, fetched from the npm registry.

``infra/web_assets.yaml`` maps each CDN address to a file of a pinned npm package. ``fetch``
downloads each package tarball once into ``.cache/web-assets/`` and checks it against the
registry's SHA-512 integrity; ``make install`` runs it, so nothing is downloaded when docs
are built. ``python -m infra.web_assets`` does the same by hand.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import sys
import tarfile
import urllib.parse
import urllib.request
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from contracts.yaml_files import read_yaml
from finradar.errors import FinradarError
from finradar.settings import get_settings

ASSETS_FILE = Path(__file__).with_name("web_assets.yaml")
NPM_REGISTRY = "https://registry.npmjs.org"


@dataclass(frozen=True)
class Asset:
    url: str
    package: str
    version: str
    path: str
    also: tuple[str, ...] = ()

    @property
    def folder(self) -> str:
        """The package's folder name under the cache and under a site's vendor folder."""
        return f"{self.package.replace('/', '__')}@{self.version}"


@cache
def assets() -> tuple[Asset, ...]:
    doc = read_yaml(ASSETS_FILE)
    return tuple(
        Asset(a["url"], a["package"], str(a["version"]), a["path"], tuple(a.get("also") or ()))
        for a in doc["assets"]
    )


def _get(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.read()
    except OSError as exc:
        raise FinradarError(f"cannot download {url}: {exc}") from None


def _fetch_package(asset: Asset, target: Path) -> None:
    name = urllib.parse.quote(asset.package, safe="@")
    meta = json.loads(_get(f"{NPM_REGISTRY}/{name}/{asset.version}"))
    tarball = _get(meta["dist"]["tarball"])
    algorithm, _, expected = meta["dist"]["integrity"].partition("-")
    if algorithm != "sha512" or base64.b64encode(hashlib.sha512(tarball).digest()).decode() != (
        expected
    ):
        raise FinradarError(f"{asset.package}@{asset.version}: the tarball fails its integrity")
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
        tar.extractall(partial, filter="data")
    # npm tarballs hold one top folder, usually `package/`
    (top,) = list(partial.iterdir())
    top.rename(target)
    partial.rmdir()


def fetch(cache_dir: Path) -> list[Path]:
    """Make sure every package of the list is in ``cache_dir``; returns their folders."""
    folders = []
    for asset in assets():
        target = cache_dir / asset.folder
        if not target.is_dir():
            target.parent.mkdir(parents=True, exist_ok=True)
            _fetch_package(asset, target)
        if not (target / asset.path).is_file():
            raise FinradarError(f"{asset.package}@{asset.version} has no {asset.path}")
        folders.append(target)
    return folders


def main() -> int:
    try:
        folders = fetch(get_settings().web_assets)
    except FinradarError as exc:
        print(f"finradar: {exc}", file=sys.stderr)
        return 1
    print(f"web assets: {len(set(folders))} npm packages in {folders[0].parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

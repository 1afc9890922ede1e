"""Headless Chromium for the report tests: the network off, charts measured, a screenshot."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

CHARTS = {
    "spend-by-segment",
    "frontier-share",
    "six-bank-rollup",
    "maturity-heatmap",
    "survey-genai_attitude",
    "survey-tech_domains_of_concern",
    "batch-pass-rate",
    "quarantine-rate-trend",
    "quarantine-reasons",
    "findings",
    "findings-by-severity",
}
# Any request would leave through a proxy that does not exist, and no host name resolves.
OFFLINE = ["--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND"]
# The same, but for pages served on this machine: 127.0.0.1 only is reached, directly.
LOCAL_ONLY = [
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=127.0.0.1",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
MEASURE = """<script>
const out = {};
for (const fig of document.querySelectorAll('figure.chart')) {
  const svg = fig.querySelector('svg');
  const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  const drawn = [...fig.querySelectorAll('.mark')].filter(m => {
    const b = m.getBoundingClientRect(); return b.width > 0 && b.height > 0; }).length;
  out[fig.dataset.chart] = {width: box.width, height: box.height, drawn: drawn};
}
const pre = document.createElement('pre'); pre.id = 'measure';
pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
</script>"""


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("chromium is not installed: `make test` installs it (Debian package)")
    return path


def run(*args: str, network: list[str] = OFFLINE) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", *network, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def measure_charts(page: Path) -> dict[str, dict[str, Any]]:
    """Per chart: the drawn size of its SVG and how many marks have a non-empty box."""
    probe = page.with_name(page.stem + "-probe.html")
    probe.write_text(page.read_text("utf-8").replace("</body>", MEASURE + "</body>"), "utf-8")
    result = run("--dump-dom", probe.as_uri())
    found = re.search(r'<pre id="measure">(.*?)</pre>', result.stdout, re.S)
    assert found, result.stdout[-2000:]
    return json.loads(found.group(1).replace("&quot;", '"'))


def probe(page: Path, script: str) -> Any:
    """Run ``script`` in ``page`` after the page's own scripts (injected before ``</body>``,
    as ``measure_charts`` does) and return what it assigns to ``out``, through JSON."""
    wrapped = (
        "<script>(function () { let out = null;\n" + script + "\n"
        "const pre = document.createElement('pre'); pre.id = 'probe';"
        "pre.textContent = JSON.stringify(out); document.body.appendChild(pre); })();</script>"
    )
    probed = page.with_name(page.stem + "-probe.html")
    probed.write_text(page.read_text("utf-8").replace("</body>", wrapped + "</body>"), "utf-8")
    result = run("--dump-dom", probed.as_uri())
    found = re.search(r'<pre id="probe">(.*?)</pre>', result.stdout, re.S)
    assert found, result.stdout[-2000:]
    return json.loads(html.unescape(found.group(1)))


FILTER = """
const visible = el => el.getClientRects().length > 0;
const rows = () => [...document.querySelectorAll('table.findings tr.finding')];
const cells = () =>
  [...document.querySelectorAll('[data-chart="maturity-heatmap"] g[data-column]')];
const text = document.getElementById('filter-text');
const type = document.getElementById('filter-type');
out = {rows: rows().length, cells: cells().length,
       types: [...type.options].map(o => o.value).filter(v => v)};
text.value = QUERY; text.dispatchEvent(new Event('input'));
out.typed = rows().filter(visible).map(r => r.textContent);
text.value = ''; text.dispatchEvent(new Event('input'));
type.value = TYPE; type.dispatchEvent(new Event('change'));
out.type_rows = rows().filter(visible).map(r => r.getAttribute('data-type'));
out.type_cells = cells().filter(visible).map(c => c.getAttribute('data-column'));
"""


def try_filters(page: Path, query: str, institution_type: str) -> dict[str, Any]:
    """Type ``query`` into the report's findings filter, then clear it and choose
    ``institution_type`` in its select: the findings rows and heatmap cells shown each time.

    Returns ``rows`` and ``cells`` (how many there are), ``types`` (the select's values),
    ``typed`` (the text of each row shown for the query), and ``type_rows`` / ``type_cells``
    (the institution type of each row and heatmap cell shown for the type)."""
    script = FILTER.replace("QUERY", json.dumps(query)).replace(
        "TYPE", json.dumps(institution_type)
    )
    return probe(page, script)


def visible_text(page: Path) -> str:
    """The text a reader sees in ``page``: ``innerText`` of its body after its scripts ran."""
    return probe(page, "out = document.body.innerText;")


def screenshot(page: Path) -> Path:
    shot = page.with_suffix(".png")
    run(f"--screenshot={shot}", "--window-size=1280,6000", "--hide-scrollbars", page.as_uri())
    return shot


def page_text(url: str, showing: str, within_s: float = 120) -> str:
    """The visible text of ``url`` once it shows ``showing`` (a single-page app such as
    Prefect's UI draws itself from its API after loading): each load gives its scripts
    10 s more virtual time than the last (up to 40 s), and loads go on for ``within_s``
    real seconds, because a server busy with other work can answer a query with an error
    the page only retries later; the last text is returned either way."""
    deadline = time.monotonic() + within_s
    attempt = 0
    while True:
        attempt += 1
        budget_ms = 10_000 * min(attempt, 4)
        result = run(f"--virtual-time-budget={budget_ms}", "--dump-dom", url, network=LOCAL_ONLY)
        text = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", result.stdout, flags=re.S)
        text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())
        if showing in text or time.monotonic() > deadline:
            return text
        time.sleep(2)

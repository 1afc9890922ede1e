"""The models page (``python -m warehouse.lineage``): every model, its tests and every edge
of the lineage, offline."""

from __future__ import annotations

import re
from pathlib import Path

from warehouse.lineage import FINDINGS, graph, main
from warehouse.model_files import checks, models


def test_the_page_lists_every_model_its_tests_and_every_edge(tmp_path: Path) -> None:
    page_path = tmp_path / "models.html"
    assert main([str(page_path)]) == 0
    page = page_path.read_text(encoding="utf-8")

    g = graph()
    sections = set(re.findall(r'<section id="([^"]+)"', page))
    assert {m.relation for m in models()} | {FINDINGS} <= sections == set(g.nodes)
    drawn = set(re.findall(r'data-edge="([^" ]+) ([^"]+)"', page))
    expected = {(d, m.relation) for m in models() for d in m.depends_on}
    expected |= {(d, FINDINGS) for c in checks() for d in c.depends_on}
    assert drawn == expected == set(g.edges)
    for model in models():
        section = page.split(f'<section id="{model.relation}">', 1)[1].split("</section>", 1)[0]
        assert f"unique ({', '.join(model.header.unique)})" in section, model.relation
        assert "<td><code>" in section, f"{model.relation} lists no columns"
    # offline: no script, nothing fetched (the SVG namespace is a name, not a request)
    assert "<script" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page)

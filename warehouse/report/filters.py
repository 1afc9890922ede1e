"""The report's client-side filters: a text box and an institution-type select, inline.

The text box keeps the findings rows (``table.findings tr.finding``) whose text contains it;
the select keeps the findings rows whose ``data-type`` is the chosen institution type and the
heatmap columns (``[data-column]``) of that type. The script is inline and fetches nothing,
so the page stays usable offline.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

STYLE = """
.filters{position:sticky;top:0;z-index:2;background:#fff;border:1px solid #dde2e8;
border-radius:6px;margin:12px 0;padding:8px 14px;display:flex;gap:18px;align-items:center;
flex-wrap:wrap}.filters input,.filters select{font:inherit;padding:2px 6px}
.filters output{color:#5b6775}
"""

SCRIPT = """<script>
(function () {
  var text = document.getElementById('filter-text');
  var type = document.getElementById('filter-type');
  var count = document.getElementById('filter-count');
  if (!text || !type) return;
  function apply() {
    var q = text.value.trim().toLowerCase();
    var t = type.value;
    var rows = document.querySelectorAll('table.findings tr.finding');
    var shown = 0;
    rows.forEach(function (row) {
      var keep = (!q || row.textContent.toLowerCase().indexOf(q) >= 0) &&
                 (!t || row.getAttribute('data-type') === t);
      row.hidden = !keep;
      if (keep) shown++;
    });
    document.querySelectorAll('[data-column]').forEach(function (el) {
      el.style.display = (!t || el.getAttribute('data-column') === t) ? '' : 'none';
    });
    if (count) count.textContent = shown + ' of ' + rows.length + ' findings shown';
  }
  text.addEventListener('input', apply);
  type.addEventListener('change', apply);
  apply();
})();
</script>"""


def filter_bar(types: Sequence[tuple[str, str]]) -> str:
    """The filter controls: a text box for the findings and a select of the institution types
    ``types`` gives as (code, name), in that order."""
    options = "".join(
        f'<option value="{escape(code)}">{escape(name)}</option>' for code, name in types
    )
    return (
        '<div class="filters" id="filters">'
        '<label>Filter findings <input id="filter-text" type="search" '
        'placeholder="rule, institution, period…"></label>'
        '<label>Institution type <select id="filter-type"><option value="">all</option>'
        f"{options}</select></label>"
        '<output id="filter-count"></output></div>'
    )

"""Write the committed artifacts derived from ``contracts.spec``: ``python -m contracts.export``."""

from __future__ import annotations

from contracts.export.ddl import DDL_FILE, raw_ddl
from contracts.export.jsonschema import SCHEMA_FILE, render
from contracts.export.markdown import DOCUMENT_FILE
from contracts.export.markdown import render as render_document


def main() -> None:
    for path, text in (
        (SCHEMA_FILE, render()),
        (DDL_FILE, raw_ddl()),
        (DOCUMENT_FILE, render_document()),
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()

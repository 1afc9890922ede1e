"""The DuckLake lakehouse: catalog, SQL models (staging -> marts, dq), data dictionary."""

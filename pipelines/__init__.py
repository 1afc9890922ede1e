"""Apache Beam pipelines and their composite transforms."""

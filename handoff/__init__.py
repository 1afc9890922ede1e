"""What passes between the stages of a pass: read from Kafka, checked, staged, landed.

The hand-off types sit below the pipelines and the warehouse so that both can use them
without importing each other: partition ranges and Kafka records (``records``), staged
files and the staging tables' Arrow schemas (``staging``), GX suite outcomes
(``validation``) and the landing's exceptions (``errors``). Nothing here imports Beam or
DuckDB.
"""

"""Apache Beam pipelines and their composite transforms."""

import logging


def _not_beams_bigquery_warning(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("apitools not found")


# Importing Beam warns on the root logger, in every process that loads a pipeline (the CLI,
# a flow run of ``serve``, a worker), that its Google Cloud client is missing: finradar
# uses none of Google Cloud.
logging.getLogger().addFilter(_not_beams_bigquery_warning)

"""Where a shared warehouse's catalog is: ``warehouse.catalog`` as a Postgres connection, and
its secrets kept out of messages."""

from __future__ import annotations

from finradar.errors import FinradarError
from finradar.settings import Settings


def postgres_conninfo(
    settings: Settings, read_only: bool = False, with_password: bool = True
) -> str:
    """``warehouse.catalog`` as libpq key/value pairs, with the password (``with_password``)
    and, for a reader, a session that refuses writes."""
    # lazy: only a Postgres catalog needs psycopg (a tenth of a second to import)
    from psycopg.conninfo import make_conninfo

    extra = {}
    if with_password and settings.warehouse.catalog_password is not None:
        extra["password"] = settings.warehouse.catalog_password.get_secret_value()
    if read_only:
        extra["options"] = "-c default_transaction_read_only=on"
    try:
        return make_conninfo(settings.warehouse.catalog, **extra)
    except Exception as exc:  # psycopg's ProgrammingError: what is wrong, never the value
        raise FinradarError(
            f"warehouse.catalog is not a Postgres connection string: {type(exc).__name__}"
        ) from None


def without_secrets(message: str, settings: Settings) -> str:
    """``message`` with the warehouse's secrets (should an error quote them) masked."""
    for secret in (settings.warehouse.catalog_password, settings.warehouse.s3_secret):
        if secret is not None and secret.get_secret_value():
            message = message.replace(secret.get_secret_value(), "**********")
    return message

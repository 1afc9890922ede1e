"""finradar: monitoring how financial institutions invest in and adopt technology."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("finradar")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+local"

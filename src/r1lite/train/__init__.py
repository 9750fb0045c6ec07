"""r1lite.train."""

from r1lite.train.difficulty import SUMMARY
from r1lite.train.runtime import default_output_dir, open_run, setup_env, versions

__all__ = [
    "SUMMARY",
    "default_output_dir",
    "open_run",
    "setup_env",
    "versions",
]

"""Run folders: what every stage does around its work (environment, the output folder policy and its lock, a default
folder derived from the settings, versions)."""

from r1lite.runs.run_folder import (
    default_output_dir,
    is_main_process,
    lock_output_dir,
    open_run,
    settings_output_dir,
    setup_env,
    versions,
)

__all__ = ["default_output_dir", "is_main_process", "lock_output_dir", "open_run", "settings_output_dir", "setup_env",
           "versions"]

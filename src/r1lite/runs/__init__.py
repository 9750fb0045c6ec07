"""Run folders: what every stage does around its work (environment, the output folder policy, versions)."""

from r1lite.runs.run_folder import default_output_dir, is_main_process, open_run, setup_env, versions

__all__ = ["default_output_dir", "is_main_process", "open_run", "setup_env", "versions"]

"""r1lite.recipe."""

from r1lite.recipe.config import (
    ConfigError,
    KEY_LIKE,
    REDACTED,
    apply_aliases,
    check_env_name,
    check_output_path,
    check_positive,
    coerce,
    load_cli_recipe,
    load_recipe,
    lookup,
    parse_overrides,
    read_yaml,
    split_config,
    suggest,
    to_dict,
)
from r1lite.recipe.recipe_help import render
from r1lite.recipe.trl_schema import trainer_section, trainer_value

__all__ = [
    "ConfigError",
    "KEY_LIKE",
    "REDACTED",
    "apply_aliases",
    "check_env_name",
    "check_output_path",
    "check_positive",
    "coerce",
    "load_cli_recipe",
    "load_recipe",
    "lookup",
    "parse_overrides",
    "read_yaml",
    "render",
    "split_config",
    "suggest",
    "to_dict",
    "trainer_section",
    "trainer_value",
]

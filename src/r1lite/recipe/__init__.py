"""A recipe: YAML + command-line overrides -> a typed, validated dataclass (config: ConfigError names the field and
the allowed values, did-you-mean); the trainer: section checked against TRL's own configs (trl_schema); a stage's
`--help` from the schema (recipe_help); the one redaction rule for everything r1lite writes and prints (redaction)."""

from r1lite.recipe.config import (
    ConfigError,
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
from r1lite.recipe.redaction import KEY_LIKE, REDACTED, SECRET_FIELD, redact, redact_logging, redact_text
from r1lite.recipe.trl_schema import trainer_section, trainer_value

__all__ = ["KEY_LIKE", "REDACTED", "SECRET_FIELD", "ConfigError", "apply_aliases", "check_env_name",
           "check_output_path", "check_positive", "coerce", "load_cli_recipe", "load_recipe", "lookup", "parse_overrides",
           "read_yaml", "redact", "redact_logging", "redact_text", "render", "split_config", "suggest", "to_dict",
           "trainer_section", "trainer_value"]

"""The model: section and the one loader (models), what a model name means without loading it (model_names), the
shapes `plan` reads (model_shapes), and Hub pushes (hub)."""

from r1lite.models.hub import create_model_repo, push_dataset, push_model
from r1lite.models.model_names import EMBEDDED, TINY_ARCHS, arch_of, resolve
from r1lite.models.model_shapes import KNOWN_SHAPES, ModelShape, known_shape, shape_from_config
from r1lite.models.models import (
    ModelArgs,
    cache_dir,
    check_dtype,
    check_model,
    check_model_loading,
    check_model_name,
    check_model_path,
    load_inference_model,
    load_model,
    load_tokenizer,
    materialize,
    planned_outputs,
    tiny_tokenizer,
)

__all__ = ["EMBEDDED", "KNOWN_SHAPES", "TINY_ARCHS", "ModelArgs", "ModelShape", "arch_of", "cache_dir", "check_dtype",
           "check_model", "check_model_loading", "check_model_name", "check_model_path", "create_model_repo",
           "known_shape", "load_inference_model", "load_model", "load_tokenizer", "materialize",
           "planned_outputs", "push_dataset", "push_model", "resolve", "shape_from_config", "tiny_tokenizer"]

"""The data: section: sources (local files, the Hub, bundled:, synthetic:) and mixing (data), TRL's dataset formats
checked row by row before anything loads (dataset_formats), named prompts, synthetic tasks, and the math and safety
benchmarks (benchmarks) with their bundled copies (benchmark_data/)."""

from r1lite.data.benchmarks import (
    BENCHMARKS,
    BUNDLED_DIR,
    KINDS,
    Benchmark,
    benchmark_file,
    find_local,
    get_benchmark,
    load_benchmark,
    read_jsonl,
)
from r1lite.data.data import (
    SYNTHETIC,
    DataArgs,
    dataset_rows,
    format_solution,
    is_local,
    iter_local_rows,
    json_preview,
    load_problems,
    local_path,
    mix,
    read_source,
    to_prompts,
)
from r1lite.data.dataset_formats import check_data, check_formats, sft_format
from r1lite.data.prompts import build_messages, prefills_think, system_prompt

__all__ = ["BENCHMARKS", "BUNDLED_DIR", "KINDS", "SYNTHETIC", "Benchmark", "DataArgs", "benchmark_file", "build_messages",
           "check_data", "check_formats", "dataset_rows", "find_local", "format_solution", "get_benchmark", "is_local",
           "iter_local_rows", "json_preview", "load_benchmark", "load_problems", "local_path", "mix", "prefills_think",
           "read_jsonl", "read_source", "sft_format", "system_prompt", "to_prompts"]

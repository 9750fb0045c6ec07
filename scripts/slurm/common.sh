# Shared by train.slurm, eval.slurm and generate.slurm (sourced from the repository root, where sbatch was run).
# Reads recipe fields with Python (YAML is not line-oriented), finds the job's nodes and GPUs from Slurm, and runs
# or, with DRY_RUN=1, prints each command.

PYTHON=${PYTHON:-python}

# recipe_field <dotted.key> <default>: a field of $RECIPE; booleans print as true/false
recipe_field() {
  "$PYTHON" - "$RECIPE" "$1" "$2" <<'PY'
import sys
import yaml

value = yaml.safe_load(open(sys.argv[1])) or {}
for key in sys.argv[2].split("."):
    value = value.get(key) if isinstance(value, dict) else None
if value is None:
    value = sys.argv[3]
print(str(value).lower() if isinstance(value, bool) else value)
PY
}

# the job's hosts, one per line (HOSTS overrides, e.g. for DRY_RUN outside Slurm)
job_hosts() {
  if [ -n "${HOSTS:-}" ]; then
    printf '%s\n' $HOSTS
  elif [ -n "${SLURM_JOB_NODELIST:-}" ]; then
    scontrol show hostnames "$SLURM_JOB_NODELIST"
  else
    hostname
  fi
}

# GPUs per node: Slurm's count, else what nvidia-smi sees, else 8
gpus_per_node() {
  local n=${GPUS_PER_NODE:-${SLURM_GPUS_ON_NODE:-${SLURM_GPUS_PER_NODE:-}}}
  n=${n##*:}  # "h100:8" -> 8
  if [ -z "$n" ] && command -v nvidia-smi >/dev/null 2>&1; then
    n=$(nvidia-smi -L | wc -l)
  fi
  echo "${n:-8}"
}

# run <command...>: print it (DRY_RUN=1) or run it
run() {
  if [ "${DRY_RUN:-0}" = 1 ]; then
    printf '%q ' "$@" | sed 's/ $//'
    echo
  else
    "$@"
  fi
}

require_recipe() {
  if [ -z "${RECIPE:-}" ] || [ ! -f "$RECIPE" ]; then
    echo "set RECIPE=recipes/<model>/<stage>/<name>.yaml (an existing file; got '${RECIPE:-}')" >&2
    exit 2
  fi
}

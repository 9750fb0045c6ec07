"""`python -m r1lite ...` (and `accelerate launch -m r1lite grpo ...`) is the same as the `r1lite` command."""

from r1lite.cli import main

if __name__ == "__main__":
    raise SystemExit(main())

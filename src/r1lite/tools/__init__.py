"""Commands around the stages: `r1lite demo` (demo, demo_report, demo_timing: the machine measured and the plan fitted to --minutes;
demo_distill: its on-policy distillation stage; demo_safety: its HarmBench refusal column),
`r1lite plan` (plan: estimates; plan_cli: the command), `r1lite recipes check` (recipes_check). Nothing below
imports them."""

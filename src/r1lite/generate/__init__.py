"""`r1lite generate` (generate): teacher traces, verified by rejection filters (filters), kept in a resumable
trace store (trace_store), decontaminated against the benchmarks (decontaminate, also `r1lite decontaminate`)."""

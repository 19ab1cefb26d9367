#!/usr/bin/env bash
# What Idempotency-Key handling adds to a request, a duplicate storm and the Bloom filter's rebuild:
# IdempotencyLatencyBenchmark through events-bench.sh, which documents the run and its settings.
exec env BENCHES="${BENCHES:-idempotency}" "$(dirname "${BASH_SOURCE[0]}")/events-bench.sh" "$@"

#!/usr/bin/env bash
# A short fuzz run of every decoder, about 30 s in all: one atheris process on the combined
# target `all` (its first byte picks one of the 14 decoder targets of fuzz/targets.py), seeded
# with valid encodings of each. Without atheris (and when `pip install atheris` is impossible)
# the hypothesis loop runs the same targets instead. Exits non-zero on a crash; atheris keeps
# the input under fuzz/crashes/. The long local run, one process per target: fuzz/README.md.
#
#   bash scripts/fuzz-short.sh            # FUZZ_SECONDS=30 by default
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
TOTAL=${FUZZ_SECONDS:-30}

corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
$PY fuzz/seeds.py "$corpus"          # about 3 s: a 2-of-2 keygen on the cached test primes
mkdir -p fuzz/crashes
budget=$(( TOTAL > 10 ? TOTAL - 5 : 5 ))

if ! $PY -c "import atheris" 2>/dev/null; then
    $PY -m pip install -q atheris >/dev/null 2>&1 || true
fi

if $PY -c "import atheris" 2>/dev/null; then
    if ! $PY fuzz/fuzz_decoders.py all "$corpus/all" -max_total_time="$budget" \
            -artifact_prefix="fuzz/crashes/all-" -print_final_stats=1 >"$corpus/log" 2>&1; then
        tail -n 60 "$corpus/log"
        echo "fuzz-short: CRASH (input saved under fuzz/crashes/; the first byte selects the" \
             "target, see fuzz/targets.py)" >&2
        exit 1
    fi
    grep -E "^stat::number_of_executed_units" "$corpus/log" | sed "s/^/fuzz-short: /"
else
    echo "fuzz-short: atheris is not available; running the hypothesis loop instead"
    count=$($PY fuzz/targets.py --list | wc -w)
    $PY fuzz/run_hypothesis.py --seconds "$(( budget / count > 0 ? budget / count : 1 ))" \
        --corpus "$corpus"
fi
echo "fuzz-short: no crash"

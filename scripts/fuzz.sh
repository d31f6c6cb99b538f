#!/bin/sh
# Fuzzes every reader with libFuzzer for FUZZ_SECONDS each (default 60) and reports the
# executions per target and what was found. Builds detr-fuzz with the fuzzer and address
# sanitizers into .build/fuzz; corpora grow in .build/fuzz-corpus/<target> (seeded from the
# test fixtures and Tests/FuzzCorpus/<target>); findings go to .build/fuzz-findings/.
# A finding (crash, hang over 10 s, leak, allocation over 2 GB) makes the exit status 1: copy
# the input into Tests/FuzzCorpus/<target>/ as a regression test, then fix the reader.
#   FUZZ_SECONDS=600 FUZZ_TARGETS="voc-xml image" scripts/fuzz.sh
set -u
SWIFT=${SWIFT:-swift}
SECONDS_EACH=${FUZZ_SECONDS:-60}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
# SwiftPM instruments only the executable for coverage: the libraries (Swift and C) get it here.
$SWIFT build --product detr-fuzz --build-path .build/fuzz --sanitize=fuzzer --sanitize=address -Xswiftc -DFUZZING \
    -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp -Xcc -fsanitize=fuzzer-no-link || exit 1
BIN=.build/fuzz/debug/detr-fuzz
# The target list and seed paths come from the replay build (`detr-fuzz --list`).
$SWIFT build --product detr-fuzz >/dev/null || exit 1
LIST=$(.build/debug/detr-fuzz --list) || exit 1
TARGETS=${FUZZ_TARGETS:-$(echo "$LIST" | cut -d' ' -f1)}
mkdir -p .build/fuzz-findings
status=0
printf '%-18s %12s %10s  %s\n' target executions per_s findings
for t in $TARGETS; do
    corpus=.build/fuzz-corpus/$t
    mkdir -p "$corpus"
    for seed in $(echo "$LIST" | awk -v t="$t" '$1 == t { for (i = 2; i <= NF; i++) print $i }') Tests/FuzzCorpus/$t; do
        if [ -d "$seed" ]; then find "$seed" -maxdepth 1 -type f -size -1024k -exec cp {} "$corpus"/ \; ; elif [ -f "$seed" ]; then cp "$seed" "$corpus"/; fi
    done
    log=.build/fuzz-findings/$t.log
    rm -f .build/fuzz-findings/"$t"-*
    DETR_FUZZ_TARGET=$t ASAN_OPTIONS=detect_leaks=1 "$BIN" "$corpus" -max_total_time="$SECONDS_EACH" \
        -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -artifact_prefix=.build/fuzz-findings/"$t"- >"$log" 2>&1
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    found=$(ls .build/fuzz-findings/"$t"-* 2>/dev/null | wc -l)
    [ "$found" -gt 0 ] && status=1
    printf '%-18s %12s %10s  %s\n' "$t" "${runs:-?}" "$(( ${runs:-0} / SECONDS_EACH ))" "$found"
done
[ $status -ne 0 ] && echo "findings in .build/fuzz-findings (logs: .build/fuzz-findings/<target>.log)"
exit $status

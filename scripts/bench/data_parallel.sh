#!/usr/bin/env bash
# Data-parallel detr-train on one machine: images/s of 1 process x 2 threads against 2 MPI
# ranks x 1 thread (the demo's recipe on generated shapes), and the gradient allreduce of
# DETR-R50 (time and megabytes per step, from rank 0's note) on 2 ranks.
#   make release && scripts/bench/data_parallel.sh [images] [epochs]
set -euo pipefail
BIN=${BIN:-$(cd "$(dirname "$0")/../.." && pwd)/.build/release}
IMAGES=${1:-160}
EPOCHS=${2:-2}
# WORKERS=0: no loader thread beside the compute threads (WORKERS=1 by default, as make demo).
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$BIN/demo-data" --output . --images "$IMAGES" --min-side 128 --max-side 160 --seed 0 > /dev/null
"$BIN/voc-annotation" VOCdevkit --classes classes.txt --seed 0 > /dev/null
MPIRUN=(mpirun -np 2 --oversubscribe --bind-to none --mca btl_vader_single_copy_mechanism none)
[ "$(id -u)" -eq 0 ] && MPIRUN+=(--allow-run-as-root)
DEMO=(2007_train.txt --classes classes.txt --model conditional-detr --groups 3 --backbone resnet18 --backbone-stages 3
      --input-size 128 --preset flip --d-model 128 --heads 8 --enc-layers 2 --dec-layers 2 --ffn 512 --queries 16 --dropout 0
      --lr 2e-4 --backbone-lr-ratio 1 --schedule constant --batch 8 --epochs "$EPOCHS" --save-period 100 --workers "${WORKERS:-1}" --seed 0)

rate() {  # images/s of the last epoch of the run under $1
  python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])["images_per_s"])' "$1"/last/../epochs.jsonl
}
"$BIN/detr-train" "${DEMO[@]}" --threads 2 --save-dir one > one.log 2>&1
"${MPIRUN[@]}" "$BIN/detr-train" "${DEMO[@]}" --threads 1 --save-dir two > two.log 2>&1
echo "demo recipe, batch 8, last of $EPOCHS epochs: 1 process x 2 threads $(rate one) img/s; 2 ranks x 1 thread $(rate two) img/s"
grep -h "gradient allreduce" two.log | tail -1

# DETR-R50 (41M parameters): its allreduce per step, small images so the step is short.
head -n 12 2007_train.txt > r50.txt
"${MPIRUN[@]}" "$BIN/detr-train" r50.txt --classes classes.txt --input-size 64 --batch 2 --epochs 1 --queries 100 \
    --workers 0 --threads 1 --save-dir r50 > r50.log 2>&1
grep -h "parameters" r50.log | sed 's/.*backbone/DETR-R50:/' | head -1
grep -h "gradient allreduce" r50.log | tail -1

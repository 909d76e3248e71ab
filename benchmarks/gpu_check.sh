#!/usr/bin/env bash
# The GPU check: the measurements a CPU cannot make, in one run bounded to 8 minutes.
#   benchmarks/gpu_check.sh [OUT]                               # on a CUDA machine (OUT: gpu-check)
#   DEVICE=cpu PROFILE=demo SHAPES=0 benchmarks/gpu_check.sh OUT  # the same plumbing on a CPU
# Parts, each with its own time limit (a part that runs out is reported and the check goes on):
# the generator's training step per architecture (bench_gen), generation throughput per sampler
# (bench_generate), every trainer's step time and peak memory (trainer_memory; bf16 autocast on
# CUDA) and the paper profile's whole DAG at minimal counts (paper_shapes). Each part's output is in
# OUT/<part>.txt; OUT/summary.txt lists each part's status and seconds.
set -uo pipefail
out=${1:-gpu-check}
device=${DEVICE:-cuda}
profile=${PROFILE:-paper}
mkdir -p "$out"
: >"$out/summary.txt"
python -c "
import torch
cuda = torch.cuda.is_available()
print('torch', torch.__version__, '| CUDA:', torch.cuda.get_device_name(0) if cuda else 'none')
if '$device' == 'cuda' and not cuda:
    raise SystemExit('gpu_check: no CUDA device (DEVICE=cpu runs the same parts on the CPU)')
" | tee "$out/device.txt" || exit 1

part() {  # NAME LIMIT_SECONDS COMMAND...
    local name=$1 limit=$2 start=$SECONDS status
    shift 2
    timeout "$limit" "$@" >"$out/$name.txt" 2>&1
    case $? in
        0) status=ok ;;
        124) status="timed out after $limit s" ;;
        *) status="failed" ;;
    esac
    echo "$name: $status, $((SECONDS - start)) s" | tee -a "$out/summary.txt"
    tail -n 15 "$out/$name.txt"
}

part bench_gen 100 python benchmarks/bench_gen.py --profiles "$profile" --devices "$device" --steps 5
part bench_generate 100 python benchmarks/bench_generate.py --profiles "$profile" \
    --devices "$device" --max-seconds 30
part trainer_memory 100 python benchmarks/trainer_memory.py --profiles "$profile" --steps 3
if [ "${SHAPES:-1}" = 1 ]; then
    part paper_shapes 160 python benchmarks/paper_shapes.py
fi

#!/usr/bin/env bash
# Every GPU check and GPU benchmark behind BENCHMARKS.md, in parts that each take a few
# minutes on an H100, every output kept in a folder:
#
#   bench/gpu_all.sh PART [FOLDER]      PART: tests | conv | conv-float32 | attention |
#                                             norms | steps | steps-autotune | all
#
#   tests      the GPU suite (tests marked gpu, the Triton kernels compiled, the CUDA C++
#              kernels, compute-sanitizer's memcheck when it is installed)
#   conv       bench/gpu.py with TF32, every implementation and auto
#   conv-float32  the same in full float32 (the CUDA C++ kernels' precision); apart from
#              conv, since seven implementations compiled on a fresh machine may not fit
#              both in one part's few minutes
#   attention  bench/gpu_attention.py (contiguous inputs, and SAGAN's views), and
#              bench/gpu_power_iteration.py
#   norms      bench/gpu_normalization.py (batch and instance norm)
#   steps      bench/train_step.py on the GPU, with the default implementations and
#              with Triton's dispatch at every launch
#   steps-autotune  the same with autotuning, which compiles and times every
#              implementation of each convolution on its first call
#
# $PYTHON (default python3) runs them. Build first so that nvcc compiles the CUDA kernels
# into minigan._C:
#   python3 -m pip install --no-build-isolation --no-deps -e .
# The outputs go to FOLDER (default gpu-results/), one file per command, each opening with
# the command, the date and nvidia-smi's name of the GPU. A failing command is reported
# and the next one runs; the exit status is non-zero when any failed.
set -u
part=${1:?usage: bench/gpu_all.sh tests|conv|conv-float32|attention|norms|steps|steps-autotune|all [FOLDER]}
folder=${2:-gpu-results}
python=${PYTHON:-python3}
mkdir -p "$folder"
failed=0

record() {  # record NAME COMMAND...: run COMMAND, its output to FOLDER/NAME.txt and here
    local name=$1
    shift
    {
        echo "\$ $*"
        local gpu
        gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
        echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ), ${gpu:-no GPU found by nvidia-smi}"
        "$@" 2>&1
        echo "# exit status $?"
    } | tee "$folder/$name.txt"
    if ! tail -1 "$folder/$name.txt" | grep -q "exit status 0$"; then
        failed=1
    fi
}

run_part() {
    case $1 in
        tests)
            record gpu-suite "$python" -m pytest -q -m gpu tests
            record kernels-compiled "$python" -m pytest -q tests/kernels tests/csrc ;;
        conv)
            record conv-tf32 "$python" bench/gpu.py --repeats 10 --rounds 2 ;;
        conv-float32)
            record conv-float32 "$python" bench/gpu.py --repeats 10 --rounds 2 \
                --precision float32 ;;
        attention)
            record attention "$python" bench/gpu_attention.py
            record attention-sagan-views "$python" bench/gpu_attention.py --sagan-views \
                --impls triton auto
            record power-iteration "$python" bench/gpu_power_iteration.py ;;
        norms)
            record normalization "$python" bench/gpu_normalization.py ;;
        steps)
            record train-step "$python" bench/train_step.py --device cuda --repeats 10 --rounds 3
            record train-step-triton-dispatch "$python" bench/train_step.py --device cuda \
                --repeats 10 --rounds 3 --triton-dispatch ;;
        steps-autotune)
            record train-step-autotune "$python" bench/train_step.py --device cuda --repeats 10 \
                --rounds 3 --autotune ;;
        all)
            for each in tests conv conv-float32 attention norms steps steps-autotune; do
                run_part "$each"
            done ;;
        *)
            echo "unknown part $1: tests, conv, conv-float32, attention, norms, steps," \
                "steps-autotune or all" >&2
            exit 2 ;;
    esac
}

run_part "$part"
exit $failed

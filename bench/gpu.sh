#!/bin/sh
# The GPU checks of the lowering, as one script for a machine with a GPU
# (H100/H200, CUDA driver): run from the repository root after
# scripts/setup.sh built build/ (or with BUILD=dir). The three binaries it
# runs need only libc and libstdc++ (the kernels are compiled in, the CUDA
# driver is dlopen'ed), so they can be built here and carried to a GPU
# machine that has no LLVM: build/test/QRealignGpuGemmTest,
# build/test/QRealignGpuW4A16Test, build/test/QRealignGpuW8A8LinearTest,
# build/bin/qrealign-bench-gpu-linear (~400 KB in all); step 4 also needs
# python3 with a CUDA PyTorch.
#
#  1. the W8A8 GEMM compiled by qrealign-lower-to-nvvm (cubin for sm_90)
#     through qrealign's runtime: every i32 accumulator against a scalar
#     reference (test/GPU/gemm-w8a8-gpu.cpp);
#  2. the W4A16 kernels compiled by qrealign-lower-to-nvvm (cubin for sm_90,
#     f16 mma.sync with weights dequantized in registers): every output
#     against a scalar reference (test/GPU/gemm-w4a16-gpu.cpp);
#  3. a whole W8A8 linear compiled by qrealign-lower-to-nvvm (activation
#     quantization, the tensor-core GEMM, row sums, epilogue: 14 kernels on
#     one stream; and a dynamic row count, one thread per output) against a
#     scalar reference (test/GPU/w8a8-linear-gpu.cpp);
#  4. the compiled linears against cuBLAS FP16 (W4A16 at M = 1, 4, 16),
#     cuBLASLt INT8 (W8A8 GEMM at M = 512, 2048) and the hardware floor
#     (bench/gpu_linear.py, PyTorch for the baselines): the table for
#     docs/benchmarks.md, also written to ${OUT:-/tmp}/gpu_linear.md;
#  5. whole models compiled by qrealign-compile --gpu (bench/gpu_decode.py,
#     from the directory `prepare` wrote, ${DECODE:-build/gpu-decode}: on the
#     build machine, `/usr/bin/python3 bench/gpu_decode.py prepare
#     build/gpu-decode`, about 13 MB to carry): the tiny Llama in each scheme
#     against the CPU object's greedy tokens and logits, then one decode
#     step of two Llama-2-7B-shaped layers (float, W4A16 g128) at a context
#     of 512 against its memory floor and PyTorch FP16: the table, also
#     written to ${OUT:-/tmp}/gpu_decode.md;
#  6. the calibration measurement of issue 13 (bench/calibration_gpu.py),
#     when the engine was built against a CUDA libtorch (CALIBRATION=1).
set -e
build=${BUILD:-build}
decode=${DECODE:-$build/gpu-decode}
echo "== W8A8 GEMM on the GPU (bit-exact i32 accumulators)"
"$build/test/QRealignGpuGemmTest"
echo "== W4A16 kernels on the GPU (f16 mma.sync, weights dequantized in registers)"
"$build/test/QRealignGpuW4A16Test"
echo "== a whole W8A8 linear on the GPU (quantization, GEMM, epilogue)"
"$build/test/QRealignGpuW8A8LinearTest"
echo "== compiled linears vs cuBLAS / cuBLASLt / the hardware floor"
python3 bench/gpu_linear.py --binary "$build/bin/qrealign-bench-gpu-linear" \
  --runs "${RUNS:-50}" --markdown "${OUT:-/tmp}/gpu_linear.md"
if [ ! -f "$decode/models.json" ] && [ -x "$build/bin/qrealign-compile" ]; then
  python3 bench/gpu_decode.py prepare "$decode" --bin "$build/bin" \
    --lib "$build/lib"
fi
echo "== whole models compiled for the GPU against the CPU object (tiny Llama)"
python3 bench/gpu_decode.py check "$decode"
echo "== a decode step of Llama-2-7B-shaped layers vs its floor and PyTorch FP16"
python3 bench/gpu_decode.py bench "$decode" --context 512 \
  --steps "${RUNS:-50}" --markdown "${OUT:-/tmp}/gpu_decode.md"
if [ "${CALIBRATION:-0}" = 1 ]; then
  echo "== calibration on a Llama-2-7B-shaped model"
  python3 bench/calibration_gpu.py --device cuda
fi

# Objects compiled ahead of time from MLIR files by qrealign-opt, LLVM's
# mlir-translate and llc: the GPU tests' and GPU benchmarks' kernels (with
# their host code) and the CPU builds of the same kernels.
find_program(QREALIGN_LLC llc PATHS ${LLVM_TOOLS_BINARY_DIR} NO_DEFAULT_PATH)
find_program(QREALIGN_MLIR_TRANSLATE mlir-translate
             PATHS ${LLVM_TOOLS_BINARY_DIR} NO_DEFAULT_PATH)
set(QREALIGN_CUDA_TOOLKIT "/usr/local/cuda" CACHE PATH
    "CUDA toolkit whose ptxas builds the GPU tests' and benchmarks' cubins")
# Whether the GPU kernels can be built here (no driver or GPU needed).
if(QREALIGN_WITH_NVVM_TARGET AND QREALIGN_LLC AND QREALIGN_MLIR_TRANSLATE
   AND EXISTS "${QREALIGN_CUDA_TOOLKIT}/bin/ptxas")
  set(QREALIGN_CAN_BUILD_GPU_KERNELS ON)
else()
  set(QREALIGN_CAN_BUILD_GPU_KERNELS OFF)
endif()
# The qrealign-opt pipeline option compiling for sm_90 into a cubin.
set(QREALIGN_NVVM_SM90
    "--qrealign-lower-to-nvvm=chip=sm_90 format=bin toolkit=${QREALIGN_CUDA_TOOLKIT}")

# qrealign_mlir_object(OUT IN PIPELINE COMMENT): qrealign-opt IN PIPELINE,
# then mlir-translate and llc, to ${CMAKE_CURRENT_BINARY_DIR}/OUT.o.
function(qrealign_mlir_object out in pipeline comment)
  set(_o ${CMAKE_CURRENT_BINARY_DIR}/${out})
  add_custom_command(OUTPUT ${_o}.o
    COMMAND $<TARGET_FILE:qrealign-opt> ${in} "${pipeline}" -o ${_o}.mlir
    COMMAND ${QREALIGN_MLIR_TRANSLATE} --mlir-to-llvmir ${_o}.mlir -o ${_o}.ll
    COMMAND ${QREALIGN_LLC} -O2 -filetype=obj -relocation-model=pic ${_o}.ll
            -o ${_o}.o
    DEPENDS qrealign-opt ${in}
    COMMENT "${comment}")
endfunction()

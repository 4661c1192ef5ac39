#===- QRealignLinkMode.cmake - dylib or fully static MLIR/LLVM -----------===#
#
# dylib:  link libMLIR.so and libLLVM.so. Executables are ~100 KB and link in
#         under a second; they need Debian's LLVM 22 at run time.
# static: link the static libMLIR*.a and libLLVM*.a. Debian's static MLIR
#         targets still name the `LLVM` (libLLVM.so) and `MLIR` (libMLIR.so)
#         dylibs in their interface, so rewrite those to the static component
#         libraries. The result needs only libc: it can be carried to the GPU
#         machine, which has no LLVM.
#
#===----------------------------------------------------------------------===#

if(QREALIGN_LINK_MODE STREQUAL "dylib")
  set(MLIR_LINK_MLIR_DYLIB ON)
  message(STATUS "qrealign: linking tools against libMLIR.so/libLLVM.so")
  return()
endif()

message(STATUS "qrealign: linking tools fully statically against MLIR/LLVM")
set(MLIR_LINK_MLIR_DYLIB OFF)
set(LLVM_LINK_LLVM_DYLIB OFF)

# LLVMSupport names zstd::libzstd_shared; libzstd-dev is not installed, the
# runtime library is.
if(NOT TARGET zstd::libzstd_shared)
  find_library(QREALIGN_ZSTD_LIB NAMES zstd libzstd.so.1
               PATHS /usr/lib/x86_64-linux-gnu)
  if(NOT QREALIGN_ZSTD_LIB)
    set(QREALIGN_ZSTD_LIB /usr/lib/x86_64-linux-gnu/libzstd.so.1)
  endif()
  add_library(zstd::libzstd_shared SHARED IMPORTED)
  set_target_properties(zstd::libzstd_shared PROPERTIES
    IMPORTED_LOCATION ${QREALIGN_ZSTD_LIB})
endif()

# What the MLIR libraries qrealign links use of LLVM: IR, and for the NVVM
# target (gpu-module-to-binary) the NVPTX back end with the optimizer,
# bitcode reader and linker it uses for libdevice.
llvm_map_components_to_libnames(QREALIGN_STATIC_LLVM_LIBS Support Remarks
  Core BinaryFormat TargetParser NVPTX Passes IRReader Linker BitWriter
  Object MC)
get_property(_qr_all_mlir GLOBAL PROPERTY MLIR_ALL_LIBS)
foreach(_t IN LISTS _qr_all_mlir)
  if(TARGET ${_t})
    get_target_property(_l ${_t} INTERFACE_LINK_LIBRARIES)
    if(_l)
      list(TRANSFORM _l REPLACE "^LLVM$" "${QREALIGN_STATIC_LLVM_LIBS}")
      set_target_properties(${_t} PROPERTIES INTERFACE_LINK_LIBRARIES "${_l}")
    endif()
  endif()
endforeach()

# Only what a binary uses becomes NEEDED (else libz3.so, 23 MB, comes along);
# libstdc++ and libgcc go in statically so the GPU machine's older or newer
# libstdc++ does not matter.
# Debian's static MLIR libraries carry full debug info and 28 MB of symbol
# names; the carried tools are stripped (37 MB instead of 114 MB). Use the
# dylib build to debug.
add_link_options(-Wl,--as-needed -static-libstdc++ -static-libgcc
                 -Wl,--strip-all)

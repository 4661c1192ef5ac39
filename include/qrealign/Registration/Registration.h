//===- Registration.h - register qrealign and upstream pieces ---*- C++ -*-===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//
//
// What a qrealign tool registers: the qrealign dialect and passes, and the
// upstream dialects, interfaces and passes the quantize-and-lower pipeline
// uses (func, arith, math, tensor, linalg, scf, memref, bufferization, quant,
// gpu, nvvm, llvm and their helpers).
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_REGISTRATION_REGISTRATION_H
#define QREALIGN_REGISTRATION_REGISTRATION_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace mlir::qrealign {
/// Adds the qrealign dialect, the upstream dialects of the pipeline and their
/// external interface models (bufferization, NVVM target) to `registry`.
void registerAllDialects(DialectRegistry &registry);

/// Registers the qrealign passes and the upstream passes of the pipeline
/// with the global pass registry (for command-line tools).
void registerAllPasses();
/// Whether this build serializes GPU modules (MLIR's NVVM target,
/// QREALIGN_WITH_NVVM_TARGET): without it, gpu-module-to-binary fails.
bool hasNVVMTarget();
} // namespace mlir::qrealign

#endif // QREALIGN_REGISTRATION_REGISTRATION_H

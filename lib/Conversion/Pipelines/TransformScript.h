//===- TransformScript.h - Apply an embedded transform script ---*- C++ -*-===//
//
// Part of the qrealign project.
//
// The passes that schedule linalg ops with the transform dialect
// (qrealign-cpu-vectorize, qrealign-gpu-int-matmul-schedule) parse their
// script and apply its @__transform_main to the module through this.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_LIB_CONVERSION_PIPELINES_TRANSFORMSCRIPT_H
#define QREALIGN_LIB_CONVERSION_PIPELINES_TRANSFORMSCRIPT_H

#include "mlir/IR/BuiltinOps.h"

namespace mlir::qrealign {
/// Parses `script` (a module holding `@__transform_main`) and applies it to
/// `module`. Errors on the module name `passName`.
LogicalResult applyTransformScript(ModuleOp module, llvm::StringRef script,
                                   llvm::StringRef passName);
} // namespace mlir::qrealign

#endif // QREALIGN_LIB_CONVERSION_PIPELINES_TRANSFORMSCRIPT_H

//===- JIT.h - qrealign functions compiled for the host ---------*- C++ -*-===//
//
// Part of the qrealign project.
//
// The CPU path of the compiled backend: a module of qrealign functions
// lowered by qrealign-lower-to-cpu and compiled in memory by
// mlir::ExecutionEngine. Functions are called through their C interface
// (`_mlir_ciface_NAME`), one MemRefDescriptor pointer per tensor argument,
// with the result's descriptor first. Returned buffers belong to the
// caller (free `allocated`).
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_COMPILED_JIT_H
#define QREALIGN_COMPILED_JIT_H

#include "qrealign/Conversion/Pipelines/Pipelines.h"
#include "qrealign/Support/MemRefDescriptor.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>

namespace mlir {
class ExecutionEngine;
} // namespace mlir

namespace qrealign {
/// Registers the host's target and assembly printer with LLVM, once per
/// process (the JIT and object files both need them).
void initializeHostTarget();
/// MLIR's C runner utilities, which compiled code links against
/// (`memrefCopy`: strided copies, such as of new keys and values into the
/// KV cache); an error when the library is missing.
llvm::Expected<llvm::StringRef> getRunnerUtilsPath();
/// Erases every function of `module` but @prefill and @decode: what is
/// compiled of a model (@prefill computes @forward's logits too; other
/// functions, such as a calibrated module's calibration functions, are not
/// part of the model).
void keepModelEntryPoints(mlir::ModuleOp module);

class JitModule {
public:
  ~JitModule();
  /// Lowers `module` (modified in place) with qrealign-lower-to-cpu and
  /// `options`, every public function with a C interface, and compiles it
  /// at -O`optLevel`.
  /// The `qrealign.param` ops left as the manifest of bound arguments are
  /// dropped before translation: the caller binds the data. Errors carry
  /// the diagnostics of the lowering.
  static llvm::Expected<std::unique_ptr<JitModule>>
  compile(mlir::ModuleOp module,
          const mlir::qrealign::LowerToCPUOptions &options = {},
          unsigned optLevel = 3);

  /// The address of function `name`'s C interface.
  llvm::Expected<void *> lookup(llvm::StringRef name);
  /// Calls function `name`'s C interface with `args[i]` pointing to its
  /// i-th argument (the result's descriptor pointer first).
  llvm::Error invokePacked(llvm::StringRef name,
                           llvm::MutableArrayRef<void *> args);

private:
  JitModule() = default;
  std::unique_ptr<mlir::ExecutionEngine> engine;
};
} // namespace qrealign

#endif // QREALIGN_COMPILED_JIT_H

//===- ParamEnvironment.h - Where parameter scopes resolve ------*- C++ -*-===//
//
// Part of the qrealign project.
//
// Relative paths in `qrealign.params` are relative to the IR file, which a
// pass does not see. The tool that drives the passes records, on the
// qrealign dialect of its context, the directory of the IR it read, the
// directory of the IR it will write, and its `--params SCOPE=PATH` values;
// passes that read or write parameter files (qrealign-quantize-weights)
// resolve scopes through it, and so does the engine lowering.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_DIALECT_QREALIGN_IR_PARAMENVIRONMENT_H
#define QREALIGN_DIALECT_QREALIGN_IR_PARAMENVIRONMENT_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mlir {
class ModuleOp;
} // namespace mlir

namespace mlir::qrealign {
struct ParamEnvironment {
  /// Directory of the IR file read; empty: the working directory.
  std::string inputDir;
  /// Directory of the IR file to be written, to which passes make the paths
  /// they record relative; empty (stdout): passes record absolute paths.
  std::string outputDir;
  /// `--params SCOPE=PATH` values (paths relative to the working
  /// directory); they replace the module's entries.
  std::vector<std::pair<std::string, std::string>> scopeFiles;

  /// Appends `--params` values of the form SCOPE=PATH to `scopeFiles`;
  /// rejects a malformed value, an invalid scope name and a scope given
  /// twice ("--params VALUE: why").
  llvm::Error addScopeFiles(llvm::ArrayRef<std::string> values);

  /// The file of `scope`: a --params value, else the module's
  /// `qrealign.params` entry resolved against `inputDir`; std::nullopt if
  /// neither names one.
  std::optional<std::string> resolve(ModuleOp module,
                                     llvm::StringRef scope) const;
  /// `path` (relative to the working directory) as a module should record
  /// it: relative to `outputDir`, or absolute when that is empty.
  std::string recordedPath(llvm::StringRef path) const;
};
} // namespace mlir::qrealign

#endif // QREALIGN_DIALECT_QREALIGN_IR_PARAMENVIRONMENT_H

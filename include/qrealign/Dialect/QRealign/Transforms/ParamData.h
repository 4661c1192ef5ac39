//===- ParamData.h - Parameter data for passes that compute weights -*- C++
//-*-===//
//
// Part of the qrealign project.
//
// Passes that compute new parameters (qrealign-quantize-weights,
// qrealign-fold-smoothing; qrealign-attach-probes declares a scope too) read
// the data of existing ones as floats and write what they compute to a new
// parameter scope: one safetensors file, written atomically, that the module's
// `qrealign.params` then maps.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_DIALECT_QREALIGN_TRANSFORMS_PARAMDATA_H
#define QREALIGN_DIALECT_QREALIGN_TRANSFORMS_PARAMDATA_H

#include "qrealign/Checkpoint/Checkpoint.h"
#include "qrealign/Dialect/QRealign/IR/QRealign.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringMap.h"

#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace mlir::qrealign {
/// Reads parameter data (inline, or from the files of their scopes through
/// the dialect's ParamEnvironment), opening each scope's file once.
/// Diagnostics are errors on the parameter, prefixed with `passName`.
class ParamReader {
public:
  ParamReader(ModuleOp module, llvm::StringRef passName)
      : module(module), passName(passName.str()) {}
  /// The elements of `param` (f32, f16 or bf16) as f32, row-major.
  FailureOr<std::vector<float>> readFloats(ParamOp param);
  /// The stored bytes of `param` (little-endian, row-major), checked
  /// against its type; valid as long as this reader lives.
  FailureOr<llvm::ArrayRef<char>> readBytes(ParamOp param);

private:
  ModuleOp module;
  std::string passName;
  llvm::StringMap<std::unique_ptr<::qrealign::Checkpoint>> checkpoints;
  std::deque<std::vector<char>> splats;
};

/// Checks that `scope` is a valid scope name that `module` does not map
/// yet; errors on the module, prefixed with `passName`.
LogicalResult checkNewScope(ModuleOp module, llvm::StringRef passName,
                            llvm::StringRef scope);

/// Writes `tensors` to `file` (atomically) and maps `scope` to it in the
/// module's `qrealign.params`, by the path the ParamEnvironment records.
LogicalResult
writeScope(ModuleOp module, llvm::StringRef passName, llvm::StringRef file,
           llvm::StringRef scope,
           llvm::ArrayRef<::qrealign::TensorToWrite> tensors,
           llvm::ArrayRef<std::pair<std::string, std::string>> metadata);

/// Maps `scope` to `file` in the module's `qrealign.params`, by the path the
/// ParamEnvironment records (relative to the output IR).
void mapScope(ModuleOp module, llvm::StringRef scope, llvm::StringRef file);

/// An f32 tensor to write, viewing `values`.
::qrealign::TensorToWrite f32Tensor(std::string name,
                                    llvm::ArrayRef<int64_t> shape,
                                    llvm::ArrayRef<float> values);

/// Declares the parameters of one new scope. Each one goes after the last
/// one declared for the same `origin` (at first, after `origin` itself), so
/// new tensors follow the tensor they come from in declaration order; a
/// null origin means the start of the module.
class ExternalParamDeclarer {
public:
  ExternalParamDeclarer(SymbolTable &symbols, llvm::StringRef scope)
      : symbols(symbols), scope(scope.str()) {}
  /// `qrealign.param @name : type = #qrealign.external<scope::key>` (`key`
  /// defaults to `name`), located by a name location of its key, and added
  /// to the symbol table (renamed if the name is taken).
  ParamOp declare(Operation *origin, llvm::StringRef name,
                  RankedTensorType type, llvm::StringRef key = {});

private:
  SymbolTable &symbols;
  std::string scope;
  DenseMap<Operation *, Operation *> lastDeclared;
};

/// The parameter `v` reads through `qrealign.get_param`, or null when `v`
/// comes from anything else.
ParamOp lookupReadParam(Value v, SymbolTable &symbols);
/// A `qrealign.get_param` of `param` at `b`'s insertion point: the inverse
/// of lookupReadParam.
Value createGetParam(OpBuilder &b, Location loc, ParamOp param);

/// The tensor name of `param`: its external key, else its symbol name.
llvm::StringRef getTensorName(ParamOp param);
} // namespace mlir::qrealign

#endif // QREALIGN_DIALECT_QREALIGN_TRANSFORMS_PARAMDATA_H

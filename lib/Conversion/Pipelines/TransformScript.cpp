//===- TransformScript.cpp - Apply an embedded transform script -----------===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "TransformScript.h"

#include "mlir/Dialect/Transform/IR/TransformOps.h"
#include "mlir/Dialect/Transform/Transforms/TransformInterpreterUtils.h"
#include "mlir/Parser/Parser.h"

using namespace mlir;

LogicalResult mlir::qrealign::applyTransformScript(ModuleOp module,
                                                   llvm::StringRef script,
                                                   llvm::StringRef passName) {
  OwningOpRef<ModuleOp> schedule =
      parseSourceString<ModuleOp>(script, module.getContext());
  if (!schedule)
    return module.emitError(passName)
           << ": the schedule does not parse (a transform extension is not "
              "registered)";
  auto entry =
      schedule->lookupSymbol<transform::NamedSequenceOp>("__transform_main");
  return transform::applyTransformNamedSequence(module, entry, *schedule,
                                                transform::TransformOptions());
}

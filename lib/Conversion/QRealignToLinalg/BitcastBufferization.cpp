//===- BitcastBufferization.cpp - Bufferization of tensor.bitcast ---------===//
//
// Part of the qrealign project.
//
// Packed 4-bit storage is `ui8` in the IR (offset-binary nibbles), and the
// arithmetic that unpacks it needs signless bytes: the lowering reads it
// through `tensor.bitcast` to `i8`, which MLIR 22 cannot bufferize. The
// model here bufferizes it to a view of the same buffer with the other
// element type (an unrealized cast between two memref types that lower to
// the same LLVM struct, which reconcile-unrealized-casts removes).
//
//===----------------------------------------------------------------------===//

#include "qrealign/Conversion/QRealignToLinalg/QRealignToLinalg.h"

#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"

using namespace mlir;
using namespace mlir::bufferization;

namespace {
struct BitcastOpModel
    : BufferizableOpInterface::ExternalModel<BitcastOpModel,
                                             tensor::BitcastOp> {
  bool bufferizesToMemoryRead(Operation *, OpOperand &,
                              const AnalysisState &) const {
    return false;
  }
  bool bufferizesToMemoryWrite(Operation *, OpOperand &,
                               const AnalysisState &) const {
    return false;
  }
  AliasingValueList getAliasingValues(Operation *op, OpOperand &,
                                      const AnalysisState &) const {
    return {{op->getResult(0), BufferRelation::Equivalent}};
  }
  FailureOr<BufferLikeType>
  getBufferType(Operation *op, Value value, const BufferizationOptions &options,
                const BufferizationState &state,
                SmallVector<Value> &invocationStack) const {
    auto bitcast = cast<tensor::BitcastOp>(op);
    FailureOr<BufferLikeType> source = bufferization::getBufferType(
        bitcast.getSource(), options, state, invocationStack);
    if (failed(source))
      return failure();
    auto memref = dyn_cast<MemRefType>(*source);
    if (!memref)
      return op->emitError("tensor.bitcast of a non-memref buffer");
    return cast<BufferLikeType>(
        MemRefType::get(memref.getShape(), bitcast.getType().getElementType(),
                        memref.getLayout(), memref.getMemorySpace()));
  }
  LogicalResult bufferize(Operation *op, RewriterBase &rewriter,
                          const BufferizationOptions &options,
                          BufferizationState &state) const {
    auto bitcast = cast<tensor::BitcastOp>(op);
    FailureOr<Value> source =
        getBuffer(rewriter, bitcast.getSource(), options, state);
    if (failed(source))
      return failure();
    auto memref = cast<MemRefType>(source->getType());
    auto type =
        MemRefType::get(memref.getShape(), bitcast.getType().getElementType(),
                        memref.getLayout(), memref.getMemorySpace());
    Value view = UnrealizedConversionCastOp::create(rewriter, op->getLoc(),
                                                    type, *source)
                     .getResult(0);
    replaceOpWithBufferizedValues(rewriter, op, view);
    return success();
  }
};
} // namespace

void mlir::qrealign::registerBitcastBufferizationModel(
    DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, tensor::TensorDialect *) {
    tensor::BitcastOp::attachInterface<BitcastOpModel>(*ctx);
  });
}

//===- EmulateNarrowTypes.cpp - qrealign-emulate-narrow-types -------------===//
//
// Part of the qrealign project.
//
// Upstream's narrow-type emulation (arith, memref, vector) as a pass, with
// what it lacks for packed weight storage: a sub-byte view of a byte buffer
// (memref.view) becomes that buffer, subviews of sub-byte memrefs are
// folded into their loads first, and function signatures are converted.
// The pass's documentation in Passes.td says what it does.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Conversion/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/Transforms/NarrowTypeEmulationConverter.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Func/Transforms/FuncConversions.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/Transforms.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/Transforms/LoweringPatterns.h"
#include "mlir/Dialect/Vector/Transforms/VectorRewritePatterns.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Transforms/DialectConversion.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::qrealign {
#define GEN_PASS_DEF_QREALIGNEMULATENARROWTYPESPASS
#include "qrealign/Conversion/Passes.h.inc"
} // namespace mlir::qrealign

using namespace mlir;

/// The width of the units sub-byte elements are packed in.
static constexpr unsigned kByteBits = 8;

/// A memref of packed integers: i2 or i4 elements. Booleans (i1: masks)
/// keep a byte each, as the LLVM lowering lays them out.
static bool isSubByteElement(Type type) {
  auto element = dyn_cast<IntegerType>(type);
  return element && element.getWidth() > 1 && element.getWidth() < kByteBits;
}

static bool isSubByte(Type type) {
  auto memref = dyn_cast<MemRefType>(type);
  return memref && isSubByteElement(memref.getElementType());
}

/// Whether the sub-byte view `op` is its source once emulated: it starts
/// at byte 0 and its bytes are the whole source (as `memref.view` requires,
/// the source is a one-dimensional byte buffer). A located error if not.
static LogicalResult checkSubByteView(memref::ViewOp op,
                                      const TypeConverter &converter) {
  if (!matchPattern(op.getByteShift(), m_Zero()))
    return op.emitOpError("of sub-byte elements must start at byte 0");
  Type converted = converter.convertType(op.getType());
  if (op.getSource().getType() != converted)
    return op.emitOpError("of sub-byte elements must cover its source "
                          "exactly (")
           << op.getSource().getType() << " is not " << converted << ")";
  return success();
}

/// Whether `func`'s sub-byte arguments and results have static shapes: the
/// emulated function takes their bytes flattened, from which a dynamic
/// shape cannot be recovered. A located error if not.
static LogicalResult checkSignature(func::FuncOp func) {
  std::pair<StringRef, ArrayRef<Type>> lists[] = {
      {"argument", func.getArgumentTypes()}, {"result", func.getResultTypes()}};
  for (auto [what, types] : lists)
    for (auto [i, type] : llvm::enumerate(types))
      if (isSubByte(type) && !cast<MemRefType>(type).hasStaticShape())
        return func.emitOpError()
               << what << " #" << i << " of sub-byte type " << type
               << " must have a static shape (the emulated function passes its "
                  "bytes flattened)";
  return success();
}

namespace {
/// `memref.view %bytes[0][] : memref<Bxi8> to memref<...xi4>` is `%bytes`
/// once the view's type is emulated (memref<Bxi8> itself; checked by
/// checkSubByteView before the conversion).
struct ConvertSubByteView : OpConversionPattern<memref::ViewOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(memref::ViewOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (!isSubByte(op.getType()) ||
        adaptor.getSource().getType() !=
            getTypeConverter()->convertType(op.getType()))
      return rewriter.notifyMatchFailure(op, "not a view of all its bytes");
    rewriter.replaceOp(op, adaptor.getSource());
    return success();
  }
};

/// The strided metadata of a sub-byte memref of static layout, which
/// upstream's patterns take of the memrefs they rewrite and resolve only
/// through the ops they know (an allocation, a subview): constants, and
/// the base of the bytes.
struct ConvertStaticSubByteMetadata
    : OpConversionPattern<memref::ExtractStridedMetadataOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(memref::ExtractStridedMetadataOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto type = cast<MemRefType>(op.getSource().getType());
    SmallVector<int64_t> strides;
    int64_t offset;
    if (!isSubByte(type) || !type.hasStaticShape() ||
        failed(type.getStridesAndOffset(strides, offset)) ||
        ShapedType::isDynamic(offset) ||
        llvm::any_of(strides, ShapedType::isDynamic))
      return rewriter.notifyMatchFailure(op, "not a static sub-byte layout");
    Location loc = op.getLoc();
    SmallVector<Value> results = {
        memref::ExtractStridedMetadataOp::create(rewriter, loc,
                                                 adaptor.getSource())
            .getBaseBuffer(),
        arith::ConstantIndexOp::create(rewriter, loc, offset)};
    for (int64_t size : type.getShape())
      results.push_back(arith::ConstantIndexOp::create(rewriter, loc, size));
    for (int64_t stride : strides)
      results.push_back(arith::ConstantIndexOp::create(rewriter, loc, stride));
    rewriter.replaceOp(op, results);
    return success();
  }
};

struct EmulateNarrowTypesPass
    : mlir::qrealign::impl::QRealignEmulateNarrowTypesPassBase<
          EmulateNarrowTypesPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();

    // Subviews of sub-byte memrefs folded into the ops that read them:
    // upstream's emulation converts a subview only with static offsets,
    // and linearizes the indices of each load itself. In-bounds 1-D
    // transfers become plain loads (an emulated transfer_read is a masked
    // load of bytes, its bounds checked at run time).
    SmallVector<Operation *> aliasing;
    bool any = false;
    module.walk([&](Operation *op) {
      if (llvm::any_of(op->getOperandTypes(), isSubByte) ||
          llvm::any_of(op->getResultTypes(), isSubByte))
        aliasing.push_back(op);
      if (auto func = dyn_cast<func::FuncOp>(op))
        any |= llvm::any_of(func.getArgumentTypes(), isSubByte) ||
               llvm::any_of(func.getResultTypes(), isSubByte);
    });
    if (aliasing.empty() && !any)
      return;
    RewritePatternSet fold(ctx);
    memref::populateFoldMemRefAliasOpPatterns(fold);
    vector::populateVectorTransferLoweringPatterns(fold, /*maxTransferRank=*/1);
    GreedyRewriteConfig foldConfig;
    foldConfig.setStrictness(GreedyRewriteStrictness::ExistingAndNewOps);
    (void)applyOpPatternsGreedily(aliasing, std::move(fold), foldConfig);

    arith::NarrowTypeEmulationConverter converter(kByteBits);
    memref::populateMemRefNarrowTypeEmulationConversions(converter);
    // Tried first: boolean memrefs stay.
    converter.addConversion([](MemRefType type) -> std::optional<Type> {
      if (type.getElementType().isInteger(1))
        return type;
      return std::nullopt;
    });
    bool ok = true;
    module.walk([&](Operation *op) {
      if (auto view = dyn_cast<memref::ViewOp>(op);
          view && isSubByte(view.getType()))
        ok &= succeeded(checkSubByteView(view, converter));
      if (auto func = dyn_cast<func::FuncOp>(op))
        ok &= succeeded(checkSignature(func));
    });
    if (!ok)
      return signalPassFailure();
    ConversionTarget target(*ctx);
    auto isLegal = [&](Operation *op) { return converter.isLegal(op); };
    target.addDynamicallyLegalOp<func::FuncOp>([&](func::FuncOp op) {
      return converter.isSignatureLegal(op.getFunctionType()) &&
             converter.isLegal(&op.getBody());
    });
    target.addDynamicallyLegalOp<func::CallOp, func::ReturnOp>(isLegal);
    target.addDynamicallyLegalDialect<
        affine::AffineDialect, arith::ArithDialect, memref::MemRefDialect,
        vector::VectorDialect>(isLegal);
    RewritePatternSet patterns(ctx);
    patterns.add<ConvertSubByteView, ConvertStaticSubByteMetadata>(converter,
                                                                   ctx);
    arith::populateArithNarrowTypeEmulationPatterns(converter, patterns);
    memref::populateMemRefNarrowTypeEmulationPatterns(converter, patterns);
    vector::populateVectorNarrowTypeEmulationPatterns(converter, patterns);
    populateFunctionOpInterfaceTypeConversionPattern<func::FuncOp>(patterns,
                                                                   converter);
    populateCallOpTypeConversionPattern(patterns, converter);
    populateReturnOpTypeConversionPattern(patterns, converter);
    if (failed(applyPartialConversion(module, target, std::move(patterns))))
      return signalPassFailure();

    RewritePatternSet rewrites(ctx);
    vector::populateVectorNarrowTypeRewritePatterns(rewrites);
    if (failed(applyPatternsGreedily(module, std::move(rewrites))))
      return signalPassFailure();
  }
};
} // namespace

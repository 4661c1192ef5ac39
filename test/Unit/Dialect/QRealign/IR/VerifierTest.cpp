//===- VerifierTest.cpp - building and verifying qrealign IR from C++ -----===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//
//
// What an ML compiler stack embedding the dialect does: build ops with the
// C++ builders, attach schemes and boundaries through the attribute and
// interface APIs, and rely on the verifier.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Dialect/QRealign/IR/QRealign.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"

#include "gtest/gtest.h"

using namespace mlir;
using namespace mlir::qrealign;

namespace {
class VerifierTest : public ::testing::Test {
protected:
  VerifierTest() : builder(&ctx) {
    ctx.loadDialect<QRealignDialect, func::FuncDialect>();
    loc = UnknownLoc::get(&ctx);
    module = ModuleOp::create(builder, loc);
    builder.setInsertionPointToEnd(module->getBody());
  }

  /// Verifies the module and returns the diagnostics, joined.
  std::string verifyErrors() {
    std::string errors;
    ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &diag) {
      errors += diag.str() + "\n";
      return success();
    });
    if (succeeded(verify(*module)))
      return "";
    return errors.empty() ? "<failed without message>" : errors;
  }

  RankedTensorType act(int64_t width) {
    return RankedTensorType::get(
        {ShapedType::kDynamic, ShapedType::kDynamic, width},
        builder.getF32Type());
  }

  /// A function taking a [?, ?, k] activation; returns its body builder.
  Value makeFunction(int64_t k) {
    auto fn = func::FuncOp::create(builder, loc, "f",
                                   builder.getFunctionType({act(k)}, {}));
    Block *entry = fn.addEntryBlock();
    builder.setInsertionPointToStart(entry);
    func::ReturnOp::create(builder, loc);
    builder.setInsertionPointToStart(entry);
    return entry->getArgument(0);
  }

  /// Declares an inline f32 parameter and reads it.
  Value param(StringRef name, ArrayRef<int64_t> shape) {
    OpBuilder::InsertionGuard guard(builder);
    builder.setInsertionPointToStart(module->getBody());
    auto type = RankedTensorType::get(shape, builder.getF32Type());
    ParamOp::create(builder, loc, name, type,
                    DenseElementsAttr::get(type, 0.5f));
    return Value();
  }

  Value getParam(StringRef name, ArrayRef<int64_t> shape) {
    param(name, shape);
    auto type = RankedTensorType::get(shape, builder.getF32Type());
    return GetParamOp::create(builder, loc, type,
                              FlatSymbolRefAttr::get(&ctx, name));
  }

  MLIRContext ctx;
  OpBuilder builder;
  Location loc = UnknownLoc::get(&ctx);
  OwningOpRef<ModuleOp> module;
};

TEST_F(VerifierTest, BuiltLinearVerifies) {
  Value x = makeFunction(64);
  Value w = getParam("w", {128, 64});
  auto scheme = QuantSchemeAttr::get(&ctx, 4, 16, Granularity::PerGroup, 32,
                                     false, ActQuantMode::Dynamic);
  LinearOp::create(builder, loc, act(128), "q_proj", x, w, /*bias=*/Value(),
                   scheme, /*fusion=*/StringAttr());
  EXPECT_EQ(verifyErrors(), "");
}

TEST_F(VerifierTest, LinearWidthMismatchIsReported) {
  Value x = makeFunction(64);
  Value w = getParam("w", {128, 32});
  LinearOp::create(builder, loc, act(128), "q_proj", x, w, Value(),
                   QuantSchemeAttr(), StringAttr());
  std::string errors = verifyErrors();
  EXPECT_NE(errors.find("input has 64 features but the weight [128, 32] "
                        "expects 32"),
            std::string::npos)
      << errors;
}

TEST_F(VerifierTest, FusionGroupsAreNotCheckedByTheVerifier) {
  // Two members of one fusion group with different schemes verify: the
  // verifier is local, and qrealign-check-fusion reports such a group.
  Value x = makeFunction(64);
  Value wq = getParam("wq", {64, 64});
  Value wk = getParam("wk", {32, 64});
  auto w4 = QuantSchemeAttr::get(&ctx, 4, 16, Granularity::PerChannel, 0, false,
                                 ActQuantMode::Dynamic);
  auto w8 = QuantSchemeAttr::get(&ctx, 8, 16, Granularity::PerChannel, 0, false,
                                 ActQuantMode::Dynamic);
  StringAttr qkv = builder.getStringAttr("qkv");
  LinearOp::create(builder, loc, act(64), "q_proj", x, wq, Value(), w4, qkv);
  auto k = LinearOp::create(builder, loc, act(32), "k_proj", x, wk, Value(), w8,
                            qkv);
  EXPECT_EQ(verifyErrors(), "");
  k.setFusionAttr(builder.getStringAttr(""));
  EXPECT_NE(verifyErrors().find("fusion group name must not be empty"),
            std::string::npos);
}

TEST_F(VerifierTest, BoundaryThroughTheInterface) {
  const char *text = R"mlir(
    qrealign.param @w : tensor<8x8xf32> = dense<0.1>
    qrealign.param @probe : tensor<8xf32> = dense<0.2>
    qrealign.param @probe_bias : tensor<1xf32> = dense<-0.5>
    func.func @f(%h: tensor<?x?x8xf32>) -> tensor<?x?x8xf32> {
      %0 = qrealign.layer 2 (%h) : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32> {
      ^bb0(%x: tensor<?x?x8xf32>):
        qrealign.yield %x : tensor<?x?x8xf32>
      }
      return %0 : tensor<?x?x8xf32>
    }
  )mlir";
  OwningOpRef<ModuleOp> parsed = parseSourceString<ModuleOp>(text, &ctx);
  ASSERT_TRUE(parsed);
  SafetyBoundaryOpInterface layer;
  parsed->walk([&](SafetyBoundaryOpInterface op) { layer = op; });
  ASSERT_TRUE(layer);
  EXPECT_EQ(layer.getProbedHiddenSize(), 8);
  EXPECT_FALSE(layer.getSafetyBoundary());

  auto boundary = SafetyBoundaryAttr::get(
      &ctx, FlatSymbolRefAttr::get(&ctx, "probe"),
      FlatSymbolRefAttr::get(&ctx, "probe_bias"), -1, llvm::APFloat(0.95));
  layer.setSafetyBoundary(boundary);
  EXPECT_TRUE(succeeded(verify(*parsed)));
  EXPECT_EQ(layer.getSafetyBoundary(), boundary);

  // A probe of the wrong width is rejected.
  layer.setSafetyBoundary(SafetyBoundaryAttr::get(
      &ctx, FlatSymbolRefAttr::get(&ctx, "w"),
      FlatSymbolRefAttr::get(&ctx, "probe_bias"), -1, llvm::APFloat(0.9)));
  std::string errors;
  {
    ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &diag) {
      errors += diag.str();
      return success();
    });
    EXPECT_TRUE(failed(verify(*parsed)));
  }
  EXPECT_NE(errors.find("must be a 1-D float tensor of the hidden size 8"),
            std::string::npos)
      << errors;
  layer.setSafetyBoundary(nullptr);
  EXPECT_TRUE(succeeded(verify(*parsed)));
}
} // namespace

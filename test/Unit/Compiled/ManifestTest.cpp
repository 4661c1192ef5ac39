//===- ManifestTest.cpp - The runtime's reading of parameter manifests ----===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Compiled/Manifest.h"
#include "qrealign/Conversion/Pipelines/Pipelines.h"

#include "gtest/gtest.h"

#include <string>

using namespace qrealign;

namespace {
/// A manifest of one function with one input and one parameter; `param`
/// replaces the parameter's fields, `version` the version.
std::string manifestText(const std::string &param =
                             R"("argument": 1, "symbol": "w", "scope": "q",
                                "tensor": "w.weight", "dtype": "ui8",
                                "shape": [16, 8], "storage": "int4-pairs")",
                         int version = mlir::qrealign::kManifestVersion) {
  return R"({"format": "qrealign-manifest", "version": )" +
         std::to_string(version) + R"(,
    "scopes": {"q": "w4.safetensors"},
    "functions": {"prefill": {
      "inputs": 1,
      "arguments": [{"dtype": "i64", "shape": [null, null]}],
      "results": [{"dtype": "f32", "shape": [null, null, 64]}],
      "params": [{)" +
         param + "}]}}}";
}

std::string errorOf(const std::string &text) {
  llvm::Expected<Manifest> m = parseManifest(text, "m.o");
  if (m)
    return "";
  return llvm::toString(m.takeError());
}
} // namespace

TEST(ManifestTest, ReadsEveryField) {
  llvm::Expected<Manifest> m = parseManifest(manifestText(), "m.o");
  ASSERT_TRUE(bool(m)) << llvm::toString(m.takeError());
  EXPECT_EQ(m->scopes.at("q"), "w4.safetensors");
  const ManifestFunction &f = m->functions.at("prefill");
  EXPECT_EQ(f.inputs, 1);
  ASSERT_EQ(f.arguments.size(), 1u);
  EXPECT_EQ(f.arguments[0].dtype, "i64");
  ASSERT_EQ(f.arguments[0].shape.size(), 2u);
  EXPECT_FALSE(f.arguments[0].shape[0].has_value());
  ASSERT_EQ(f.results[0].shape.size(), 3u);
  EXPECT_EQ(f.results[0].shape[2], 64);
  ASSERT_EQ(f.params.size(), 1u);
  const ManifestParam &p = f.params[0];
  EXPECT_EQ(p.argument, 1);
  EXPECT_EQ(p.symbol, "w");
  EXPECT_EQ(p.scope, "q");
  EXPECT_EQ(p.tensor, "w.weight");
  EXPECT_EQ(p.dtype, "ui8");
  EXPECT_EQ(p.storage, "int4-pairs");
  ASSERT_EQ(p.shape.size(), 2u);
  EXPECT_EQ(p.shape[0], 16);
  EXPECT_EQ(p.shape[1], 8);
}

TEST(ManifestTest, RefusesOtherDocumentsAndVersions) {
  EXPECT_NE(errorOf(R"({"format": "other", "version": 2})")
                .find("m.o: not a qrealign manifest"),
            std::string::npos);
  // Version 2: @decode returned grown caches; 3 updates them in place.
  EXPECT_NE(errorOf(manifestText(R"("argument": 1)", 2))
                .find("m.o: manifest version 2; this runtime reads version 3 "
                      "(recompile with this qrealign)"),
            std::string::npos);
  // JSON errors are located.
  EXPECT_NE(errorOf("{\"format\": ").find("m.o:1:"), std::string::npos);
}

TEST(ManifestTest, NamesTheBadField) {
  std::string missing = errorOf(manifestText(
      R"("argument": 1, "symbol": "w", "scope": "q", "dtype": "ui8",
         "shape": [16, 8], "storage": "int4-pairs")"));
  EXPECT_NE(missing.find("tensor"), std::string::npos) << missing;
  EXPECT_NE(missing.find("functions.prefill.params[0]"), std::string::npos)
      << missing;
  std::string wrongType = errorOf(manifestText(
      R"("argument": 1, "symbol": "w", "scope": "q", "tensor": 7,
         "dtype": "ui8", "shape": [16, 8], "storage": "int4-pairs")"));
  EXPECT_NE(wrongType.find("tensor"), std::string::npos) << wrongType;
}

TEST(ManifestTest, ChecksBindings) {
  // Parameters follow the inputs, in order.
  EXPECT_NE(errorOf(manifestText(
                        R"("argument": 2, "symbol": "w", "scope": "q",
                           "tensor": "w.weight", "dtype": "ui8",
                           "shape": [16, 8], "storage": "int4-pairs")"))
                .find("argument 2, expected 1"),
            std::string::npos);
  // A scope must be listed.
  EXPECT_NE(errorOf(manifestText(
                        R"("argument": 1, "symbol": "w", "scope": "z",
                           "tensor": "w.weight", "dtype": "ui8",
                           "shape": [16, 8], "storage": "int4-pairs")"))
                .find("scope 'z' is not in \"scopes\""),
            std::string::npos);
  // A parameter's shape is static.
  EXPECT_NE(errorOf(manifestText(
                        R"("argument": 1, "symbol": "w", "scope": "q",
                           "tensor": "w.weight", "dtype": "ui8",
                           "shape": [null, 8], "storage": "int4-pairs")"))
                .find("parameter @w has a dynamic size"),
            std::string::npos);
}

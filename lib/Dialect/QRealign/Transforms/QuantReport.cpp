//===- QuantReport.cpp - table of schemes and weight footprint ------------===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Dialect/QRealign/IR/QRealign.h"
#include "qrealign/Dialect/QRealign/Transforms/Passes.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir::qrealign {
#define GEN_PASS_DEF_QREALIGNQUANTREPORTPASS
#include "qrealign/Dialect/QRealign/Transforms/Passes.h.inc"
} // namespace mlir::qrealign

using namespace mlir;
using namespace mlir::qrealign;

namespace {
struct QuantReportPass
    : public qrealign::impl::QRealignQuantReportPassBase<QuantReportPass> {
  using QRealignQuantReportPassBase::QRealignQuantReportPassBase;
  void runOnOperation() override;
};

struct Row {
  std::string layer, name, shape, scheme;
  double bits;
  int64_t weights;
};
} // namespace

/// Formats a byte count as B, KiB, MiB or GiB.
static std::string formatBytes(double bytes) {
  std::string out;
  llvm::raw_string_ostream os(out);
  if (bytes < 1024)
    os << llvm::format("%.0f B", bytes);
  else if (bytes < 1024.0 * 1024)
    os << llvm::format("%.1f KiB", bytes / 1024);
  else if (bytes < 1024.0 * 1024 * 1024)
    os << llvm::format("%.1f MiB", bytes / (1024.0 * 1024));
  else
    os << llvm::format("%.2f GiB", bytes / (1024.0 * 1024 * 1024));
  return out;
}

static void printReport(llvm::raw_ostream &os, ArrayRef<Row> rows) {
  os << "| layer | linear | weight | scheme | bits/weight | FP16 | "
        "quantized |\n";
  os << "|------:|--------|-------:|--------|------------:|-----:|"
        "----------:|\n";
  double fp16Bytes = 0, quantBytes = 0;
  int64_t weights = 0;
  for (const Row &r : rows) {
    double fp = 2.0 * r.weights, q = r.bits / 8.0 * r.weights;
    fp16Bytes += fp;
    quantBytes += q;
    weights += r.weights;
    os << "| " << r.layer << " | " << r.name << " | " << r.shape << " | "
       << r.scheme << " | " << llvm::format("%.3f", r.bits) << " | "
       << formatBytes(fp) << " | " << formatBytes(q) << " |\n";
  }
  double avgBits = weights ? quantBytes * 8.0 / weights : 0.0;
  os << "| total | " << rows.size() << " linears | " << weights
     << " weights | | " << llvm::format("%.3f", avgBits) << " | "
     << formatBytes(fp16Bytes) << " | " << formatBytes(quantBytes) << " |\n";
  os << "\nLinear weights: " << formatBytes(fp16Bytes) << " in FP16, "
     << formatBytes(quantBytes) << " quantized ("
     << llvm::format("%.2f", quantBytes > 0 ? fp16Bytes / quantBytes : 0.0)
     << "x smaller). Embeddings and norms are not counted.\n";
}

void QuantReportPass::runOnOperation() {
  SmallVector<Row> rows;
  getOperation().walk([&](LinearOp op) {
    Row r;
    std::optional<int64_t> layer = op.getLayerIndex();
    r.layer = layer ? std::to_string(*layer) : "-";
    r.name = op.getName().str();
    int64_t n = op.getOutFeatures(), k = op.getInFeatures();
    r.shape = std::to_string(n) + "x" + std::to_string(k);
    r.weights = n * k;
    if (QuantSchemeAttr scheme = op.getQuantAttr()) {
      r.scheme = scheme.getShortName();
      r.bits = scheme.getBitsPerWeight(k);
    } else {
      r.scheme = "unquantized";
      r.bits = 16.0;
    }
    rows.push_back(std::move(r));
  });

  if (file.empty()) {
    printReport(llvm::errs(), rows);
    return markAllAnalysesPreserved();
  }
  // Atomic: written to a temporary file in the same directory, then renamed.
  if (llvm::Error err = llvm::writeToOutput(file, [&](llvm::raw_ostream &os) {
        printReport(os, rows);
        return llvm::Error::success();
      })) {
    getOperation().emitError()
        << "qrealign-quant-report: cannot write '" << StringRef(file)
        << "': " << llvm::toString(std::move(err));
    return signalPassFailure();
  }
  markAllAnalysesPreserved();
}

//===- Manifest.cpp - The parameter manifest of compiled code -------------===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Compiled/Manifest.h"

#include "qrealign/Conversion/Pipelines/Pipelines.h"
#include "qrealign/Support/JSON.h"

#include "llvm/Support/JSON.h"

using namespace ::qrealign;
namespace json = llvm::json;

namespace qrealign {
static bool fromJSON(const json::Value &v, ManifestTensor &t, json::Path path) {
  json::ObjectMapper o(v, path);
  return o && o.map("dtype", t.dtype) && o.map("shape", t.shape);
}

static bool fromJSON(const json::Value &v, ManifestParam &p, json::Path path) {
  json::ObjectMapper o(v, path);
  return fromJSON(v, static_cast<ManifestTensor &>(p), path) &&
         o.map("argument", p.argument) && o.map("symbol", p.symbol) &&
         o.map("scope", p.scope) && o.map("tensor", p.tensor) &&
         o.map("storage", p.storage);
}

static bool fromJSON(const json::Value &v, ManifestFunction &f,
                     json::Path path) {
  json::ObjectMapper o(v, path);
  return o && o.map("inputs", f.inputs) && o.map("arguments", f.arguments) &&
         o.map("results", f.results) && o.map("params", f.params);
}
} // namespace qrealign

llvm::Expected<Manifest> qrealign::parseManifest(llvm::StringRef text,
                                                 llvm::StringRef origin) {
  llvm::Expected<json::Value> doc = parseJSON(text, origin);
  if (!doc)
    return doc.takeError();
  auto fail = [&](const llvm::Twine &msg) {
    return llvm::createStringError(origin + ": " + msg);
  };
  const json::Object *root = doc->getAsObject();
  if (!root || root->getString("format") != "qrealign-manifest")
    return fail("not a qrealign manifest (no \"format\": "
                "\"qrealign-manifest\")");
  std::optional<int64_t> version = root->getInteger("version");
  if (version != mlir::qrealign::kManifestVersion)
    return fail("manifest version " +
                (version ? std::to_string(*version) : std::string("?")) +
                "; this runtime reads version " +
                std::to_string(mlir::qrealign::kManifestVersion) +
                " (recompile with this qrealign)");
  Manifest manifest;
  json::Path::Root rootPath("manifest");
  json::ObjectMapper o(*doc, rootPath);
  if (!o.map("scopes", manifest.scopes) ||
      !o.map("functions", manifest.functions)) {
    std::string message;
    llvm::raw_string_ostream os(message);
    os << llvm::toString(rootPath.getError());
    return fail(message);
  }
  for (const auto &[name, fn] : manifest.functions) {
    std::string where = "functions." + name;
    if (fn.inputs < 0 || size_t(fn.inputs) != fn.arguments.size())
      return fail(where + ": " + std::to_string(fn.inputs) + " inputs but " +
                  std::to_string(fn.arguments.size()) + " argument types");
    for (auto [k, p] : llvm::enumerate(fn.params)) {
      std::string at = where + ".params[" + std::to_string(k) + "]";
      if (p.argument != fn.inputs + int64_t(k))
        return fail(at + ": argument " + std::to_string(p.argument) +
                    ", expected " + std::to_string(fn.inputs + k) +
                    " (parameters follow the inputs in order)");
      if (llvm::any_of(p.shape, [](auto d) { return !d; }))
        return fail(at + ": parameter @" + p.symbol + " has a dynamic size");
      if (!manifest.scopes.count(p.scope))
        return fail(at + ": scope '" + p.scope + "' is not in \"scopes\"");
    }
  }
  return manifest;
}

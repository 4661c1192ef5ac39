//===- ParamEnvironment.cpp - Where parameter scopes resolve --------------===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Dialect/QRealign/IR/QRealign.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

using namespace mlir;
using namespace mlir::qrealign;

llvm::Error
ParamEnvironment::addScopeFiles(llvm::ArrayRef<std::string> values) {
  for (const std::string &v : values) {
    auto [scope, path] = llvm::StringRef(v).split('=');
    auto fail = [&](const llvm::Twine &why) {
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "--params " + v + ": " + why);
    };
    if (path.empty() || !llvm::StringRef(v).contains('='))
      return fail("expected SCOPE=PATH");
    if (!ExternalAttr::isValidScope(scope))
      return fail("scope '" + scope +
                  "' is not a name ([A-Za-z_][A-Za-z0-9_-]*)");
    if (llvm::any_of(scopeFiles,
                     [&](const auto &f) { return f.first == scope; }))
      return fail("scope '" + scope + "' is given twice");
    scopeFiles.push_back({scope.str(), path.str()});
  }
  return llvm::Error::success();
}

std::optional<std::string>
ParamEnvironment::resolve(ModuleOp module, llvm::StringRef scope) const {
  for (const auto &[s, path] : scopeFiles)
    if (s == scope)
      return path;
  auto map = module->getAttrOfType<DictionaryAttr>(
      QRealignDialect::getParamsAttrName());
  if (!map)
    return std::nullopt;
  auto file = map.getAs<StringAttr>(scope);
  if (!file)
    return std::nullopt;
  llvm::StringRef path = file.getValue();
  if (llvm::sys::path::is_absolute(path) || inputDir.empty())
    return path.str();
  llvm::SmallString<256> out(inputDir);
  llvm::sys::path::append(out, path);
  return std::string(out);
}

static std::string absolute(llvm::StringRef path) {
  llvm::SmallString<256> p(path);
  llvm::sys::fs::make_absolute(p);
  llvm::sys::path::remove_dots(p, /*remove_dot_dot=*/true);
  return std::string(p);
}

std::string ParamEnvironment::recordedPath(llvm::StringRef path) const {
  std::string t = absolute(path);
  if (outputDir.empty())
    return t;
  std::string b = absolute(outputDir);
  llvm::SmallVector<llvm::StringRef> tp(llvm::sys::path::begin(t),
                                        llvm::sys::path::end(t));
  llvm::SmallVector<llvm::StringRef> bp(llvm::sys::path::begin(b),
                                        llvm::sys::path::end(b));
  size_t common = 0;
  while (common < tp.size() && common < bp.size() && tp[common] == bp[common])
    ++common;
  llvm::SmallString<256> out;
  for (size_t i = common; i < bp.size(); ++i)
    llvm::sys::path::append(out, "..");
  for (size_t i = common; i < tp.size(); ++i)
    llvm::sys::path::append(out, tp[i]);
  return out.empty() ? "." : std::string(out);
}

//===- qrealign-opt.cpp - qrealign optimizer driver -----------------------===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//
//
// mlir-opt for qrealign: parses, verifies, transforms and prints IR with the
// qrealign dialect and the upstream dialects of the quantize-and-lower
// pipeline. `-o FILE` is written atomically: to a temporary file next to
// FILE, renamed over it only when the whole run succeeded, so a failed or
// interrupted run never leaves a truncated or half-written output.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Registration/Registration.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

namespace {
/// Where `-o` output goes and how.
struct OutputRedirect {
  /// The file to replace at the end (empty: write directly, nothing to do).
  std::string target;
  /// The temporary file the tool writes instead.
  std::string temp;
};

/// Finds `-o FILE` / `-o=FILE` in `args` and, when FILE is (or will be) a
/// regular file, points it at a temporary file in FILE's directory. Devices
/// (`/dev/null`), pipes and the like are written directly: they cannot be
/// replaced by rename. A symlink is followed so that its target is replaced
/// and the link stays. The temporary file takes the permissions of an
/// existing FILE.
OutputRedirect redirectOutput(std::vector<std::string> &args) {
  namespace fs = llvm::sys::fs;
  // Like the option parser, the last occurrence wins.
  std::string *value = nullptr;
  std::string prefix;
  for (size_t i = 1; i < args.size(); ++i) {
    llvm::StringRef arg = args[i];
    if (arg == "--")
      break;
    if ((arg == "-o" || arg == "--o") && i + 1 < args.size()) {
      value = &args[++i];
      prefix.clear();
    } else if (arg.starts_with("-o=") || arg.starts_with("--o=")) {
      prefix = arg.substr(0, arg.find('=') + 1).str();
      value = &args[i];
    }
  }
  if (!value)
    return {};
  {
    std::string target = value->substr(prefix.size());
    if (target == "-" || target.empty())
      return {};
    fs::file_status status;
    llvm::ErrorOr<fs::perms> perms = fs::perms_not_known;
    if (fs::exists(target)) {
      llvm::SmallString<256> real;
      if (fs::real_path(target, real) || fs::status(real, status) ||
          status.type() != fs::file_type::regular_file)
        return {};
      target = real.str().str();
      perms = fs::getPermissions(target);
    }
    llvm::SmallString<256> temp;
    int fd;
    if (fs::createUniqueFile(target + ".tmp-%%%%%%%%", fd, temp))
      return {}; // Let the tool report the problem with the target itself.
    fs::closeFile(fd);
    if (perms && *perms != fs::perms_not_known)
      (void)fs::setPermissions(temp, *perms);
    *value = prefix + temp.str().str();
    return {target, temp.str().str()};
  }
}
} // namespace

int main(int argc, char **argv) {
  mlir::qrealign::registerAllPasses();
  mlir::DialectRegistry registry;
  mlir::qrealign::registerAllDialects(registry);

  std::vector<std::string> args(argv, argv + argc);
  // Diagnostics name the op by location; dumping the whole enclosing op (a
  // module of hundreds of layers) after every error helps nobody. A later
  // --mlir-print-op-on-diagnostic=true on the command line still wins.
  args.insert(args.begin() + 1, "--mlir-print-op-on-diagnostic=false");
  OutputRedirect output = redirectOutput(args);
  std::vector<char *> cargs;
  for (std::string &a : args)
    cargs.push_back(a.data());
  cargs.push_back(nullptr);

  llvm::LogicalResult result = mlir::MlirOptMain(
      int(args.size()), cargs.data(),
      "qrealign optimizer driver: parse, verify, transform and print "
      "qrealign IR\n",
      registry);

  if (!output.target.empty()) {
    if (llvm::failed(result)) {
      llvm::sys::fs::remove(output.temp);
      return 1;
    }
    if (std::error_code ec =
            llvm::sys::fs::rename(output.temp, output.target)) {
      llvm::errs() << "error: cannot write '" << output.target
                   << "': " << ec.message() << "\n";
      llvm::sys::fs::remove(output.temp);
      return 1;
    }
  }
  return mlir::asMainReturnCode(result);
}

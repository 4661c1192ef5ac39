//===- AtomicOutput.cpp - Write output files atomically -------------------===//

#include "qrealign/Support/AtomicOutput.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"

using namespace llvm;
namespace fs = llvm::sys::fs;

namespace qrealign {
static Error fail(StringRef path, const Twine &msg) {
  return createStringError(inconvertibleErrorCode(),
                           "cannot write '" + path + "': " + msg);
}

Error writeFileAtomically(StringRef path,
                          function_ref<Error(raw_ostream &)> write) {
  if (path == "-") {
    if (Error err = write(outs()))
      return err;
    outs().flush();
    return Error::success();
  }
  std::string target = path.str();
  ErrorOr<fs::perms> perms = fs::perms_not_known;
  if (fs::exists(target)) {
    SmallString<256> real;
    fs::file_status status;
    if (std::error_code ec = fs::real_path(target, real))
      return fail(path, ec.message());
    if (std::error_code ec = fs::status(real, status))
      return fail(path, ec.message());
    if (status.type() == fs::file_type::directory_file)
      return fail(path, "is a directory");
    if (status.type() != fs::file_type::regular_file) {
      // A device or a pipe: cannot be replaced by rename; write in place.
      std::error_code ec;
      raw_fd_ostream os(real, ec, fs::OF_None);
      if (ec)
        return fail(path, ec.message());
      if (Error err = write(os))
        return err;
      os.close();
      if (os.has_error())
        return fail(path, os.error().message());
      return Error::success();
    }
    target = std::string(real);
    perms = fs::getPermissions(target);
  }
  SmallString<256> temp;
  int fd;
  if (std::error_code ec =
          fs::createUniqueFile(target + ".tmp-%%%%%%%%", fd, temp))
    return fail(path, ec.message());
  {
    raw_fd_ostream os(fd, /*shouldClose=*/true);
    Error err = write(os);
    os.close();
    if (!err && os.has_error())
      err = fail(path, os.error().message());
    if (err) {
      os.clear_error();
      fs::remove(temp);
      return err;
    }
  }
  if (perms && *perms != fs::perms_not_known)
    (void)fs::setPermissions(temp, *perms);
  if (std::error_code ec = fs::rename(temp, target)) {
    fs::remove(temp);
    return fail(path, ec.message());
  }
  return Error::success();
}
} // namespace qrealign

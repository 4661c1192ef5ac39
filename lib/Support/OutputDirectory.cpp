//===- OutputDirectory.cpp - The output policy for directories ------------===//

#include "qrealign/Support/OutputDirectory.h"
#include "qrealign/Support/AtomicOutput.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace llvm;
namespace fs = llvm::sys::fs;

namespace qrealign {
static Error fail(StringRef path, const Twine &msg) {
  return createStringError(inconvertibleErrorCode(), path + ": " + msg);
}

static std::string errnoMessage(int err) {
  return std::error_code(err, std::generic_category()).message();
}

StringRef getOutputMarkerName() { return ".qrealign-output"; }

bool isQRealignOutput(StringRef dir) {
  SmallString<256> marker(dir);
  sys::path::append(marker, getOutputMarkerName());
  struct stat st;
  return lstat(std::string(marker).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

/// Whether `dir` (a directory) has no entries.
static Expected<bool> isEmptyDirectory(StringRef dir) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec, /*follow_symlinks=*/false);
  if (ec)
    return fail(dir, "cannot list: " + ec.message());
  return it == fs::directory_iterator();
}

static std::string realPathOr(StringRef path) {
  SmallString<256> real;
  if (fs::real_path(path, real))
    return path.str();
  return std::string(real);
}

/// Directories --force never replaces.
static Error checkNotPrecious(StringRef path) {
  std::string real = realPathOr(path);
  if (real == "/")
    return fail(path, "refusing to replace the root directory");
  if (const char *home = getenv("HOME");
      home && *home && realPathOr(home) == real)
    return fail(path, "refusing to replace the home directory");
  SmallString<256> cwd;
  if (!fs::current_path(cwd)) {
    std::string c = realPathOr(cwd);
    if (c == real || StringRef(c).starts_with(real + "/"))
      return fail(path, "refusing to replace a directory that holds the "
                        "current directory");
  }
  return Error::success();
}

Error checkOutputDirectory(StringRef path, bool force) {
  if (path.empty())
    return fail("''", "empty output path");
  struct stat st;
  if (lstat(path.str().c_str(), &st) != 0) {
    if (errno == ENOENT)
      return Error::success();
    return fail(path, "cannot stat: " + errnoMessage(errno));
  }
  if (S_ISLNK(st.st_mode))
    return fail(path, "is a symbolic link; give the directory itself as "
                      "the output");
  if (!S_ISDIR(st.st_mode))
    return fail(path, "exists and is not a directory; qrealign does not "
                      "replace it (choose another output path)");
  if (isQRealignOutput(path))
    return Error::success();
  Expected<bool> empty = isEmptyDirectory(path);
  if (!empty)
    return empty.takeError();
  if (*empty)
    return Error::success();
  if (!force)
    return fail(path, "directory exists, is not empty and was not written by "
                      "qrealign (it has no " +
                          getOutputMarkerName() +
                          "); choose another output path, or pass --force "
                          "to replace it");
  return checkNotPrecious(path);
}

/// A fresh directory "<parent>/.<name>.<kind>-XXXXXX".
static Expected<std::string> makeSiblingDirectory(StringRef target,
                                                  StringRef kind) {
  SmallString<256> parent(sys::path::parent_path(target));
  if (parent.empty())
    parent = ".";
  if (std::error_code ec = fs::create_directories(parent))
    return fail(parent, "cannot create: " + ec.message());
  SmallString<256> templ(parent);
  sys::path::append(templ,
                    "." + sys::path::filename(target) + "." + kind + "-XXXXXX");
  std::string buf = std::string(templ);
  if (!mkdtemp(buf.data()))
    return fail(target, "cannot create a staging directory beside it: " +
                            errnoMessage(errno));
  return buf;
}

Expected<OutputDirectory> OutputDirectory::create(StringRef path,
                                                  StringRef tool, bool force) {
  // A trailing slash would make the staging name ".."-like: normalise.
  std::string target = path.rtrim('/').str();
  if (target.empty())
    target = path.str();
  if (Error err = checkOutputDirectory(target, force))
    return std::move(err);
  Expected<std::string> staging = makeSiblingDirectory(target, "qrealign-tmp");
  if (!staging)
    return staging.takeError();
  return OutputDirectory(target, *staging, tool.str(), force);
}

OutputDirectory::OutputDirectory(OutputDirectory &&other)
    : target(std::move(other.target)), staging(std::move(other.staging)),
      tool(std::move(other.tool)), force(other.force),
      committed(other.committed) {
  other.committed = true; // the moved-from object owns nothing
}

OutputDirectory::~OutputDirectory() {
  if (!committed && !staging.empty())
    (void)fs::remove_directories(staging);
}

static Error writeMarker(StringRef dir, StringRef tool) {
  SmallString<256> marker(dir);
  sys::path::append(marker, getOutputMarkerName());
  return writeFileAtomically(marker, [&](raw_ostream &os) {
    os << json::Value(json::Object{{"written_by", tool}}) << "\n";
    return Error::success();
  });
}

/// renameat2 with `flags`; errno on failure.
static int renameWithFlags(StringRef from, StringRef to, unsigned flags) {
  return renameat2(AT_FDCWD, from.str().c_str(), AT_FDCWD, to.str().c_str(),
                   flags) == 0
             ? 0
             : errno;
}

Error OutputDirectory::commit() {
  if (Error err = writeMarker(staging, tool))
    return err;
  // The target may have changed since create(): check it again.
  if (Error err = checkOutputDirectory(target, force))
    return err;
  struct stat st;
  bool exists = lstat(target.c_str(), &st) == 0;
  if (!exists) {
    int err = renameWithFlags(staging, target, RENAME_NOREPLACE);
    if (err == EINVAL || err == ENOSYS)
      err = ::rename(staging.c_str(), target.c_str()) == 0 ? 0 : errno;
    if (err == EEXIST || err == ENOTEMPTY)
      return fail(target, "appeared while the output was being written; "
                          "the new output is left in " +
                              staging);
    if (err) {
      committed = true; // keep the staging directory for the user
      return fail(target, "cannot move " + staging +
                              " into place: " + errnoMessage(err));
    }
    committed = true;
    return Error::success();
  }
  // Remember what the old output was before it moves.
  bool oldIsOurs = isQRealignOutput(target);
  std::string old = staging;
  int err = renameWithFlags(staging, target, RENAME_EXCHANGE);
  if (err == EINVAL || err == ENOSYS) {
    // No RENAME_EXCHANGE here: park the old output, then move the new one.
    Expected<std::string> parked = makeSiblingDirectory(target, "qrealign-old");
    if (!parked)
      return parked.takeError();
    (void)fs::remove(*parked); // rename needs an absent or empty target
    if (::rename(target.c_str(), parked->c_str()) != 0)
      return fail(target, "cannot move the previous output aside: " +
                              errnoMessage(errno));
    if (::rename(staging.c_str(), target.c_str()) != 0) {
      int e = errno;
      (void)::rename(parked->c_str(), target.c_str());
      return fail(target,
                  "cannot move " + staging + " into place: " + errnoMessage(e));
    }
    old = *parked;
    err = 0;
  }
  if (err)
    return fail(target,
                "cannot replace with " + staging + ": " + errnoMessage(err));
  committed = true;
  // `old` now holds the previous output: ours, empty, or forced.
  std::error_code ec =
      oldIsOurs || force ? fs::remove_directories(old) : fs::remove(old);
  if (ec)
    return fail(
        old, "the previous output of " + target +
                 " was moved here and could not be removed: " + ec.message());
  return Error::success();
}

Error createOwnedDirectory(StringRef dir, StringRef tool) {
  struct stat st;
  if (lstat(dir.str().c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode) && isQRealignOutput(dir))
      return Error::success();
    return fail(dir, "exists and was not made by qrealign (no " +
                         getOutputMarkerName() +
                         "); move it away or choose another output path");
  }
  if (std::error_code ec = fs::create_directories(dir))
    return fail(dir, "cannot create: " + ec.message());
  return writeMarker(dir, tool);
}

Error removeOwnedDirectory(StringRef dir) {
  struct stat st;
  if (lstat(dir.str().c_str(), &st) != 0 || !S_ISDIR(st.st_mode) ||
      !isQRealignOutput(dir))
    return Error::success();
  if (std::error_code ec = fs::remove_directories(dir))
    return fail(dir, "cannot remove: " + ec.message());
  return Error::success();
}
} // namespace qrealign

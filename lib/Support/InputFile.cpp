//===- InputFile.cpp - Read input files: regular files only ---------------===//

#include "qrealign/Support/InputFile.h"
#include "qrealign/Support/Limits.h"

#include "llvm/Support/FileSystem.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace llvm;

namespace qrealign {
static Error fail(StringRef path, const Twine &msg) {
  return createStringError(inconvertibleErrorCode(), path + ": " + msg);
}

static const char *describeType(mode_t mode) {
  if (S_ISDIR(mode))
    return "a directory";
  if (S_ISFIFO(mode))
    return "a FIFO";
  if (S_ISCHR(mode))
    return "a character device";
  if (S_ISBLK(mode))
    return "a block device";
  if (S_ISSOCK(mode))
    return "a socket";
  return "not a regular file";
}

namespace {
/// A descriptor of a regular file, closed on destruction.
class RegularFile {
public:
  static Expected<RegularFile> open(StringRef path) {
    std::string p = path.str();
    // O_NONBLOCK: opening a FIFO for reading must not wait for a writer.
    int fd;
    do
      fd = ::open(p.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
      return fail(
          path, "cannot open: " +
                    std::error_code(errno, std::generic_category()).message());
    RegularFile f(fd);
    struct stat st;
    if (fstat(fd, &st) != 0)
      return fail(
          path, "cannot stat: " +
                    std::error_code(errno, std::generic_category()).message());
    if (!S_ISREG(st.st_mode))
      return fail(path, Twine("not a regular file (") +
                            describeType(st.st_mode) +
                            "); qrealign reads regular files only");
    // Back to blocking reads for the regular file.
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
      (void)fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    f.size = uint64_t(st.st_size);
    return std::move(f);
  }
  RegularFile(RegularFile &&other) : fd(other.fd), size(other.size) {
    other.fd = -1;
  }
  ~RegularFile() {
    if (fd >= 0)
      ::close(fd);
  }
  sys::fs::file_t native() const { return fd; }

  int fd;
  uint64_t size = 0;

private:
  explicit RegularFile(int fd) : fd(fd) {}
};
} // namespace

Expected<std::unique_ptr<MemoryBuffer>>
readRegularFile(StringRef path, uint64_t maxSize, StringRef what) {
  Expected<RegularFile> file = RegularFile::open(path);
  if (!file)
    return file.takeError();
  if (file->size > maxSize)
    return fail(path, formatBytes(file->size) + ", more than the " +
                          formatBytes(maxSize) + " " + what + " may have");
  ErrorOr<std::unique_ptr<MemoryBuffer>> buf = MemoryBuffer::getOpenFile(
      file->native(), path, file->size, /*RequiresNullTerminator=*/false);
  if (!buf)
    return fail(path, "cannot read: " + buf.getError().message());
  return std::move(*buf);
}

Expected<std::unique_ptr<MemoryBuffer>>
readRegularFileSlice(StringRef path, uint64_t length, uint64_t offset) {
  Expected<RegularFile> file = RegularFile::open(path);
  if (!file)
    return file.takeError();
  std::optional<uint64_t> end = checkedAdd(offset, length);
  if (!end || *end > file->size)
    return fail(path, "bytes [" + Twine(offset) + ", " + Twine(offset) + " + " +
                          Twine(length) + ") lie past the end of the " +
                          Twine(file->size) + "-byte file");
  ErrorOr<std::unique_ptr<MemoryBuffer>> buf = MemoryBuffer::getOpenFileSlice(
      file->native(), path, length, int64_t(offset));
  if (!buf)
    return fail(path, "cannot read: " + buf.getError().message());
  return std::move(*buf);
}

Expected<uint64_t> getRegularFileSize(StringRef path) {
  Expected<RegularFile> file = RegularFile::open(path);
  if (!file)
    return file.takeError();
  return file->size;
}

Error checkRegularFile(StringRef path) {
  Expected<RegularFile> file = RegularFile::open(path);
  if (!file)
    return file.takeError();
  return Error::success();
}

Expected<std::unique_ptr<MemoryBuffer>>
readRegularFileOrStdin(StringRef path, uint64_t maxSize, StringRef what) {
  if (path != "-")
    return readRegularFile(path, maxSize, what);
  ErrorOr<std::unique_ptr<MemoryBuffer>> buf = MemoryBuffer::getSTDIN();
  if (!buf)
    return fail("<stdin>", "cannot read: " + buf.getError().message());
  if ((*buf)->getBufferSize() > maxSize)
    return fail("<stdin>", formatBytes((*buf)->getBufferSize()) +
                               ", more than the " + formatBytes(maxSize) + " " +
                               what + " may have");
  return std::move(*buf);
}
} // namespace qrealign

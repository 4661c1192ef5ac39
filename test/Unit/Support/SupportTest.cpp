//===- SupportTest.cpp - The input and output rules of robustness.md ------===//

#include "qrealign/Support/IRInput.h"
#include "qrealign/Support/InputFile.h"
#include "qrealign/Support/JSON.h"
#include "qrealign/Support/Limits.h"
#include "qrealign/Support/Message.h"
#include "qrealign/Support/OutputDirectory.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include "gtest/gtest.h"

#include <cstdlib>
#include <sys/stat.h>
#include <unistd.h>

using namespace qrealign;
using llvm::SmallString;
using llvm::StringRef;
namespace fs = llvm::sys::fs;

namespace {
std::string errorText(llvm::Error err) {
  return err ? llvm::toString(std::move(err)) : std::string();
}

/// A fresh directory, removed with everything in it at the end.
class TempDir {
public:
  TempDir() { EXPECT_FALSE(fs::createUniqueDirectory("qr-support", path)); }
  ~TempDir() { fs::remove_directories(path); }
  std::string operator/(StringRef name) const {
    SmallString<256> p(path);
    llvm::sys::path::append(p, name);
    return std::string(p);
  }
  SmallString<256> path;
};

void writeText(const std::string &path, StringRef text) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  ASSERT_FALSE(ec) << path;
  os << text;
}

std::string readText(const std::string &path) {
  auto buf = llvm::MemoryBuffer::getFile(path);
  return buf ? (*buf)->getBuffer().str() : std::string("<missing>");
}

//===----------------------------------------------------------------------===//
// Limits
//===----------------------------------------------------------------------===//

TEST(LimitsTest, CheckedSizes) {
  EXPECT_EQ(getCheckedNumElements({3, 4}), 12);
  EXPECT_EQ(getCheckedNumElements({}), 1);
  EXPECT_EQ(getCheckedNumElements({5, 0, int64_t(1) << 62}), 0);
  EXPECT_FALSE(getCheckedNumElements({-1, 4}));
  EXPECT_FALSE(getCheckedNumElements({int64_t(1) << 32, int64_t(1) << 32}));
  // The wrap of issue 10, item 5: 2^62 elements of 4 bytes is 2^64 bytes.
  EXPECT_EQ(getCheckedNumElements({int64_t(1) << 31, int64_t(1) << 31}),
            int64_t(1) << 62);
  EXPECT_FALSE(getCheckedByteSize({int64_t(1) << 31, int64_t(1) << 31}, 4));
  EXPECT_FALSE(getCheckedByteSize({int64_t(1) << 61, 2}, 4));
  EXPECT_EQ(getCheckedByteSize({2, 3}, 2), 12u);
  EXPECT_FALSE(checkedAdd(UINT64_MAX, 1));
  EXPECT_FALSE(checkedMul(int64_t(1) << 62, int64_t(4)));
}

TEST(LimitsTest, AllocationBound) {
  EXPECT_EQ(errorText(checkAllocation(1024, "x")), "");
  std::string msg = errorText(checkAllocation(uint64_t(1) << 62, "a splat"));
  EXPECT_NE(msg.find("a splat needs 4.0 EiB, more than the"), std::string::npos)
      << msg;
  EXPECT_NE(errorText(checkAllocation(std::nullopt, "y")).find("overflows"),
            std::string::npos);
  setenv("QREALIGN_MEMORY_LIMIT", "1M", 1);
  EXPECT_EQ(getMemoryLimit(), uint64_t(1) << 20);
  msg = errorText(checkAllocation(uint64_t(2) << 20, "z"));
  EXPECT_NE(msg.find("QREALIGN_MEMORY_LIMIT allows"), std::string::npos) << msg;
  unsetenv("QREALIGN_MEMORY_LIMIT");
  EXPECT_EQ(formatBytes(512), "512 B");
  EXPECT_EQ(formatBytes(3 << 20), "3.0 MiB");
}

//===----------------------------------------------------------------------===//
// JSON
//===----------------------------------------------------------------------===//

TEST(JSONTest, ParsesWhatLLVMParses) {
  auto v = parseJSON(R"({"a": [1, 2.5e3, "x\u00e9\ud83d\ude00", true, null],
                         "b": {"c": {}}})",
                     "t");
  ASSERT_TRUE(bool(v)) << llvm::toString(v.takeError());
  EXPECT_EQ(*v->getAsObject()->getArray("a")->front().getAsInteger(), 1);
  EXPECT_EQ(*(*v->getAsObject()->getArray("a"))[2].getAsString(),
            "x\xC3\xA9\xF0\x9F\x98\x80");
}

TEST(JSONTest, DepthLimit) {
  std::string deep(100000, '[');
  deep += std::string(100000, ']');
  auto v = parseJSON(deep, "deep.json");
  ASSERT_FALSE(bool(v));
  EXPECT_EQ(llvm::toString(v.takeError()),
            "deep.json:1:65: nesting deeper than 64 levels");
  JSONLimits limits;
  limits.maxDepth = 3;
  EXPECT_TRUE(bool(parseJSON("[[[1]]]", "t", limits)));
  EXPECT_FALSE(bool(parseJSON("[[[[1]]]]", "t", limits)));
}

TEST(JSONTest, DuplicateKeys) {
  auto v = parseJSON("{\"a\": 1,\n \"b\": {\"a\": 2},\n \"a\": 3}", "f");
  ASSERT_FALSE(bool(v));
  EXPECT_EQ(llvm::toString(v.takeError()),
            "f:3:2: duplicate key \"a\" (first at 1:2)");
  // Escapes are decoded before comparing: "\u0061" is "a".
  v = parseJSON(R"({"a": 1, "\u0061": 2})", "f");
  ASSERT_FALSE(bool(v));
  EXPECT_NE(llvm::toString(v.takeError()).find("duplicate key \"a\""),
            std::string::npos);
  // The same key in different objects is fine.
  EXPECT_TRUE(bool(parseJSON(R"([{"a": 1}, {"a": 2}])", "f")));
}

TEST(JSONTest, MemoryEstimate) {
  std::string many = "[";
  for (int i = 0; i < 1000; ++i)
    many += std::string(i ? "," : "") + "{\"a\":1}";
  many += "]";
  JSONLimits limits;
  limits.maxMemory = 1 << 20; // 1000 objects need about 5.5 MB
  auto v = parseJSON(many, "m.json", limits);
  ASSERT_FALSE(bool(v));
  EXPECT_NE(
      llvm::toString(v.takeError()).find("m.json: parsing it would take about"),
      std::string::npos);
  limits.maxMemory = 16 << 20;
  EXPECT_TRUE(bool(parseJSON(many, "m.json", limits)));
}

TEST(JSONTest, LocatedSyntaxErrors) {
  for (auto [text, msg] : std::vector<std::pair<StringRef, StringRef>>{
           {"{\"a\" 1}", "t:1:6: expected ':' after an object key"},
           {"[1,]", "t:1:4: expected a value"},
           {"{\"a\":1", "t:1:7: unexpected end of the text"},
           {"[1] 2", "t:1:5: unexpected text after the JSON value"},
           {"\"ab", "t:1:1: unterminated string"},
           {"[\"a\x01\"]", "t:1:4: control character in a string (escape "
                           "it)"},
           {"[01]", "t:1:3: expected ',' or ']' after an array element"},
           {"[-]", "t:1:2: invalid number"},
           {"[\"\\q\"]", "t:1:3: invalid escape '\\q'"},
           {"{1: 2}", "t:1:2: expected a string key"}}) {
    auto v = parseJSON(text, "t");
    ASSERT_FALSE(bool(v)) << text.str();
    EXPECT_EQ(llvm::toString(v.takeError()), msg.str()) << text.str();
  }
  // JSON Lines pass the line number of the text they parse.
  auto v = parseJSON("{\"a\":}", "f.jsonl", {}, 7);
  ASSERT_FALSE(bool(v));
  EXPECT_EQ(llvm::toString(v.takeError()), "f.jsonl:7:6: expected a value");
  // Invalid UTF-8 is left to llvm::json::parse, whose error is kept.
  v = parseJSON("[\"\xff\"]", "u");
  ASSERT_FALSE(bool(v));
  EXPECT_NE(llvm::toString(v.takeError()).find("u: invalid JSON:"),
            std::string::npos);
}

//===----------------------------------------------------------------------===//
// Input files
//===----------------------------------------------------------------------===//

TEST(InputFileTest, RegularFilesOnly) {
  TempDir dir;
  std::string fifo = dir / "fifo", file = dir / "file";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  writeText(file, "hello");
  // A FIFO with no writer: open() without O_NONBLOCK would block forever.
  auto buf = readRegularFile(fifo);
  ASSERT_FALSE(bool(buf));
  EXPECT_EQ(llvm::toString(buf.takeError()),
            fifo + ": not a regular file (a FIFO); qrealign reads regular "
                   "files only");
  EXPECT_NE(errorText(checkRegularFile(dir.path)).find("(a directory)"),
            std::string::npos);
  EXPECT_NE(
      errorText(checkRegularFile("/dev/null")).find("(a character device)"),
      std::string::npos);
  buf = readRegularFile(file);
  ASSERT_TRUE(bool(buf));
  EXPECT_EQ((*buf)->getBuffer(), "hello");
  buf = readRegularFile(file, 4, "a test file");
  ASSERT_FALSE(bool(buf));
  EXPECT_EQ(llvm::toString(buf.takeError()),
            file + ": 5 B, more than the 4 B a test file may have");
  auto slice = readRegularFileSlice(file, 3, 1);
  ASSERT_TRUE(bool(slice));
  EXPECT_EQ((*slice)->getBuffer(), "ell");
  slice = readRegularFileSlice(file, UINT64_MAX, 2);
  EXPECT_FALSE(bool(slice));
  llvm::consumeError(slice.takeError());
}

TEST(IRInputTest, TrailingNewline) {
  auto same = llvm::MemoryBuffer::getMemBufferCopy("module {}\n", "a.mlir");
  const char *before = same->getBufferStart();
  same = withTrailingNewline(std::move(same));
  EXPECT_EQ(same->getBufferStart(), before);
  auto cut = withTrailingNewline(
      llvm::MemoryBuffer::getMemBufferCopy("{-# x: \"0x04", "b.mlir"));
  EXPECT_EQ(cut->getBuffer(), "{-# x: \"0x04\n");
  EXPECT_EQ(cut->getBufferIdentifier(), "b.mlir");
  EXPECT_EQ(*cut->getBufferEnd(), '\0');
  auto bytecode = withTrailingNewline(
      llvm::MemoryBuffer::getMemBufferCopy(StringRef("ML\xEFR\x01", 5), "c"));
  EXPECT_EQ(bytecode->getBufferSize(), 5u);
}

TEST(MessageTest, QuoteForMessage) {
  EXPECT_EQ(quoteForMessage("a\rb\nc\td\x1b[2J"), "a\\rb\\nc\\td\\x1B[2J");
  EXPECT_EQ(quoteForMessage("caf\xC3\xA9 \xFF"), "caf\xC3\xA9 \\xFF");
  EXPECT_EQ(quoteForMessage(std::string(100, 'x'), 10), "xxxxxxxxxx...");
}

//===----------------------------------------------------------------------===//
// The output policy
//===----------------------------------------------------------------------===//

TEST(OutputDirectoryTest, RefusesWhatItDidNotWrite) {
  TempDir dir;
  std::string user = dir / "user", file = dir / "file", link = dir / "link";
  ASSERT_FALSE(fs::create_directory(user));
  writeText(user + "/notes.txt", "mine");
  writeText(file, "mine");
  ASSERT_FALSE(fs::create_link(user, link));

  std::string msg = errorText(checkOutputDirectory(user, false));
  EXPECT_NE(msg.find("is not empty and was not written by qrealign"),
            std::string::npos)
      << msg;
  EXPECT_FALSE(bool(OutputDirectory::create(user, "t", false)));
  EXPECT_NE(errorText(checkOutputDirectory(file, true))
                .find("exists and is not a directory"),
            std::string::npos);
  EXPECT_NE(
      errorText(checkOutputDirectory(link, true)).find("is a symbolic link"),
      std::string::npos);
  EXPECT_EQ(readText(user + "/notes.txt"), "mine");
  EXPECT_EQ(readText(file), "mine");
  // Nothing was left beside them.
  std::error_code ec;
  int entries = 0;
  for (fs::directory_iterator it(dir.path, ec), end; it != end && !ec;
       it.increment(ec))
    ++entries;
  EXPECT_EQ(entries, 3);
}

TEST(OutputDirectoryTest, ForceHasLimits) {
  TempDir dir;
  std::string home = dir / "home";
  ASSERT_FALSE(fs::create_directory(home));
  writeText(home + "/.profile", "mine");
  const char *oldHome = getenv("HOME");
  std::string saved = oldHome ? oldHome : "";
  setenv("HOME", home.c_str(), 1);
  EXPECT_NE(errorText(checkOutputDirectory(home, true))
                .find("refusing to replace the home directory"),
            std::string::npos);
  if (oldHome)
    setenv("HOME", saved.c_str(), 1);
  else
    unsetenv("HOME");
  EXPECT_NE(errorText(checkOutputDirectory("/", true)).find("root"),
            std::string::npos);
  // The current directory, or one above it.
  EXPECT_NE(errorText(checkOutputDirectory(".", true))
                .find("holds the current directory"),
            std::string::npos);
}

TEST(OutputDirectoryTest, CommitSwapsAndCleansUp) {
  TempDir dir;
  std::string target = dir / "out";
  {
    auto out = OutputDirectory::create(target, "unit-test", false);
    ASSERT_TRUE(bool(out)) << llvm::toString(out.takeError());
    EXPECT_TRUE(StringRef(out->getStagingPath()).contains(".out.qrealign-tmp"));
    writeText(out->getStagingPath().str() + "/a", "first");
    EXPECT_FALSE(fs::exists(target)); // nothing at the target until commit
    ASSERT_FALSE(bool(out->commit()));
  }
  EXPECT_EQ(readText(target + "/a"), "first");
  EXPECT_TRUE(isQRealignOutput(target));

  // A second output replaces the first (it holds the marker), whole.
  {
    auto out = OutputDirectory::create(target, "unit-test", false);
    ASSERT_TRUE(bool(out));
    writeText(out->getStagingPath().str() + "/b", "second");
    EXPECT_EQ(readText(target + "/a"), "first"); // old output untouched
    ASSERT_FALSE(bool(out->commit()));
  }
  EXPECT_EQ(readText(target + "/b"), "second");
  EXPECT_FALSE(fs::exists(target + "/a"));

  // An output that is never committed (a failed run) leaves no trace.
  std::string staging;
  {
    auto out = OutputDirectory::create(target, "unit-test", false);
    ASSERT_TRUE(bool(out));
    staging = out->getStagingPath().str();
    writeText(staging + "/c", "never");
  }
  EXPECT_FALSE(fs::exists(staging));
  EXPECT_EQ(readText(target + "/b"), "second");

  // An empty directory is accepted and only rmdir'ed.
  std::string empty = dir / "empty";
  ASSERT_FALSE(fs::create_directory(empty));
  auto out = OutputDirectory::create(empty, "unit-test", false);
  ASSERT_TRUE(bool(out));
  ASSERT_FALSE(bool(out->commit()));
  EXPECT_TRUE(isQRealignOutput(empty));
}

TEST(OutputDirectoryTest, ChangedUnderfootBeforeCommit) {
  TempDir dir;
  std::string target = dir / "out";
  auto out = OutputDirectory::create(target, "unit-test", false);
  ASSERT_TRUE(bool(out));
  // The user puts their own directory there while the tool runs.
  ASSERT_FALSE(fs::create_directory(target));
  writeText(target + "/mine", "mine");
  std::string msg = errorText(out->commit());
  EXPECT_NE(msg.find("was not written by qrealign"), std::string::npos) << msg;
  EXPECT_EQ(readText(target + "/mine"), "mine");
}

TEST(OutputDirectoryTest, OwnedDirectories) {
  TempDir dir;
  std::string ckpt = dir / "out.ckpt", user = dir / "user.ckpt";
  ASSERT_FALSE(bool(createOwnedDirectory(ckpt, "unit-test")));
  EXPECT_TRUE(isQRealignOutput(ckpt));
  ASSERT_FALSE(bool(createOwnedDirectory(ckpt, "unit-test"))); // again: ok
  ASSERT_FALSE(fs::create_directory(user));
  writeText(user + "/x", "mine");
  EXPECT_NE(errorText(createOwnedDirectory(user, "unit-test"))
                .find("was not made by qrealign"),
            std::string::npos);
  ASSERT_FALSE(bool(removeOwnedDirectory(user))); // left alone
  EXPECT_EQ(readText(user + "/x"), "mine");
  ASSERT_FALSE(bool(removeOwnedDirectory(ckpt)));
  EXPECT_FALSE(fs::exists(ckpt));
}
} // namespace

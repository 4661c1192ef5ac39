//===- SafeTensorsTest.cpp - safetensors writer/reader round trip ---------===//

#include "qrealign/Checkpoint/Checkpoint.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "gtest/gtest.h"

#include <cstring>

using namespace qrealign;

namespace {
std::string tempDir() {
  llvm::SmallString<128> dir;
  EXPECT_FALSE(llvm::sys::fs::createUniqueDirectory("qr-st", dir));
  return std::string(dir);
}

TEST(SafeTensors, WriteThenReadRoundTrips) {
  std::string dir = tempDir();
  std::string path = dir + "/m.safetensors";
  std::vector<float> a = {1.5f, -2.f, 3.25f, 0.f, 7.f, -0.5f};
  std::vector<uint16_t> b = {0x3f80, 0x4000, 0xbf80};
  std::vector<uint8_t> c = {1, 2, 3, 4, 5};
  auto bytes = [](const auto &v) {
    return llvm::ArrayRef<uint8_t>(reinterpret_cast<const uint8_t *>(v.data()),
                                   v.size() * sizeof(v[0]));
  };
  std::vector<TensorToWrite> tensors = {{"w.a", DType::F32, {2, 3}, bytes(a)},
                                        {"w.b", DType::BF16, {3}, bytes(b)},
                                        {"w.c", DType::U8, {5}, bytes(c)}};
  ASSERT_FALSE(bool(writeSafeTensors(path, tensors, {{"format", "pt"}})));

  auto ckpt = Checkpoint::open(path);
  ASSERT_TRUE(bool(ckpt)) << llvm::toString(ckpt.takeError());
  ASSERT_EQ((*ckpt)->getTensors().size(), 3u);
  ASSERT_EQ((*ckpt)->getMetadata().size(), 1u);
  EXPECT_EQ((*ckpt)->getMetadata()[0].second, "pt");
  const TensorInfo *ta = (*ckpt)->lookup("w.a");
  ASSERT_NE(ta, nullptr);
  EXPECT_EQ(ta->dtype, DType::F32);
  EXPECT_EQ(ta->getShapeString(), "[2, 3]");
  auto data = (*ckpt)->getData(*ta);
  ASSERT_TRUE(bool(data));
  ASSERT_EQ(data->size(), 24u);
  EXPECT_EQ(std::memcmp(data->data(), a.data(), 24), 0);
  auto dc = (*ckpt)->getData(*(*ckpt)->lookup("w.c"));
  ASSERT_TRUE(bool(dc));
  EXPECT_EQ(std::vector<uint8_t>(dc->begin(), dc->end()), c);
  // The header is padded to 8 bytes, so the data section starts aligned.
  EXPECT_EQ(ta->offset % 8, 0u);
  llvm::sys::fs::remove_directories(dir);
}

TEST(SafeTensors, WriterRejectsBadInputAndLeavesNoFile) {
  std::string dir = tempDir();
  std::string path = dir + "/bad.safetensors";
  std::vector<float> a = {1.f, 2.f};
  llvm::ArrayRef<uint8_t> raw(reinterpret_cast<const uint8_t *>(a.data()), 8);
  // Shape needs 12 bytes, 8 given.
  llvm::Error err = writeSafeTensors(path, {{"a", DType::F32, {3}, raw}});
  ASSERT_TRUE(bool(err));
  EXPECT_NE(llvm::toString(std::move(err)).find("needs 12 bytes, 8 given"),
            std::string::npos);
  EXPECT_FALSE(llvm::sys::fs::exists(path));
  llvm::Error dup = writeSafeTensors(
      path, {{"a", DType::F32, {2}, raw}, {"a", DType::F32, {2}, raw}});
  ASSERT_TRUE(bool(dup));
  EXPECT_NE(llvm::toString(std::move(dup)).find("duplicate tensor 'a'"),
            std::string::npos);
  // No temporary files are left behind either.
  std::error_code ec;
  llvm::sys::fs::directory_iterator it(dir, ec), end;
  EXPECT_TRUE(it == end);
  llvm::sys::fs::remove_directories(dir);
}

TEST(SafeTensors, HeaderParserRejectsEveryTruncation) {
  // Every prefix of a valid header is rejected with a message, never a crash
  // (the JSON parser and the validator see partial input).
  std::string header =
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("__metadata__":{"k":"v"}})";
  for (size_t n = 0; n < header.size(); ++n) {
    std::vector<TensorInfo> tensors;
    std::vector<std::pair<std::string, std::string>> meta;
    llvm::Error err = parseSafeTensorsHeader(
        llvm::StringRef(header).take_front(n), 8, "f", tensors, meta);
    EXPECT_TRUE(bool(err)) << "prefix of length " << n << " accepted";
    llvm::consumeError(std::move(err));
  }
  std::vector<TensorInfo> tensors;
  std::vector<std::pair<std::string, std::string>> meta;
  EXPECT_FALSE(bool(parseSafeTensorsHeader(header, 8, "f", tensors, meta)));
  EXPECT_EQ(tensors.size(), 1u);
}
} // namespace

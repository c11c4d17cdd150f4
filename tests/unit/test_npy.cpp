#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "core/npy.h"
#include "onnx_test_util.h"

namespace kiln::test {
namespace {

TEST(Npy, RoundTripsEveryDtype) {
  TempDir dir;
  for (DataType dt : {DataType::Float32, DataType::Float64, DataType::Float16, DataType::Int8, DataType::Int16,
                      DataType::Int32, DataType::Int64, DataType::UInt8, DataType::UInt16, DataType::UInt32,
                      DataType::UInt64, DataType::Bool}) {
    Tensor t = Tensor::empty(dt, {2, 3, 5});
    auto* p = static_cast<uint8_t*>(t.raw());
    for (size_t i = 0; i < t.nbytes(); ++i) p[i] = dt == DataType::Bool ? (i & 1) : static_cast<uint8_t>(i * 7 + 1);
    const std::string path = dir.file(std::string(dtype_name(dt)) + ".npy");
    write_npy(path, t);
    Tensor back = read_npy(path);
    EXPECT_EQ(back.dtype(), dt);
    EXPECT_EQ(back.shape(), t.shape());
    EXPECT_EQ(0, std::memcmp(back.raw(), t.raw(), t.nbytes())) << dtype_name(dt);
  }
}

TEST(Npy, ScalarAndOneD) {
  TempDir dir;
  for (Shape s : {Shape{}, Shape{7}, Shape{0, 3}}) {
    Tensor t = Tensor::empty(DataType::Float32, s);
    write_npy(dir.file("a.npy"), t);
    EXPECT_EQ(read_npy(dir.file("a.npy")).shape(), s);
  }
}

TEST(Npy, ReadsWhatNumpyWrites) {
  // Header exactly as numpy 1.24 writes np.arange(3, dtype='<i4').
  TempDir dir;
  std::string header = "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }";
  header += std::string(118 - header.size() - 1, ' ') + "\n";
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8) + char(header.size()) + '\0' + header;
  const int32_t v[3] = {0, 1, 2};
  bytes.append(reinterpret_cast<const char*>(v), 12);
  Tensor t = read_npy(dir.write("np.npy", bytes));
  ASSERT_EQ(t.shape(), (Shape{3}));
  EXPECT_EQ(t.data<int32_t>()[2], 2);
}

TEST(Npy, RejectsBadFiles) {
  TempDir dir;
  EXPECT_KILN_ERROR(read_npy(dir.file("missing.npy")), ErrorCode::IO, "missing.npy");
  EXPECT_KILN_ERROR(read_npy(dir.write("bad.npy", "hello world")), ErrorCode::InvalidArgument, "bad.npy", "magic");
  Tensor t = Tensor::empty(DataType::Float32, {4, 4});
  write_npy(dir.file("t.npy"), t);
  std::ifstream in(dir.file("t.npy"), std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), {});
  EXPECT_KILN_ERROR(read_npy(dir.write("trunc.npy", all.substr(0, all.size() - 5))), ErrorCode::InvalidArgument,
                    "shorter");
  std::string fortran = all;
  fortran.replace(fortran.find("False"), 5, "True ");
  EXPECT_KILN_ERROR(read_npy(dir.write("f.npy", fortran)), ErrorCode::InvalidArgument, "Fortran");
  std::string big_endian = all;
  big_endian.replace(big_endian.find("<f4"), 3, ">f4");
  EXPECT_KILN_ERROR(read_npy(dir.write("be.npy", big_endian)), ErrorCode::InvalidArgument, "dtype");
}

// A v1.0 .npy file of float32 whose header claims `shape`, with `data_bytes` of data.
std::string npy_claiming(TempDir& dir, const std::string& name, const std::string& shape, size_t data_bytes) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  header += std::string((64 - (10 + header.size() + 1) % 64) % 64, ' ') + "\n";
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8) + char(header.size() & 0xff) + char(header.size() >> 8);
  return dir.write(name, bytes + header + std::string(data_bytes, '\0'));
}

// The review's case: a 1 KB file whose header says [1000,3,224,224] made kiln
// allocate and touch 600 MB before failing. The shape is now checked against
// the bytes left in the file first.
TEST(Npy, ShapeIsCheckedAgainstTheFileSizeBeforeAllocating) {
  TempDir dir;
  const std::string big = npy_claiming(dir, "big.npy", "(1000, 3, 224, 224)", 1024);
  EXPECT_KILN_ERROR(read_npy(big), ErrorCode::InvalidArgument, "big.npy", "shorter", "1024 bytes", "602112000");
  // Read in a child, whose peak memory shows whether the 600 MB were touched.
  fflush(nullptr);
  const pid_t child = ::fork();
  if (child == 0) {
    try {
      read_npy(big);
    } catch (const Error&) {
      ::_exit(0);
    }
    ::_exit(1);
  }
  int status = 0;
  rusage usage{};
  ASSERT_EQ(::wait4(child, &status, 0, &usage), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_LT(usage.ru_maxrss, 200 * 1024) << "peak KiB of a read that fails";

  // 602 GB: was an out-of-memory error (an abort under ASan), now the same clear error.
  EXPECT_KILN_ERROR(read_npy(npy_claiming(dir, "huge.npy", "(1, 3, 224, 224000000)", 1024)),
                    ErrorCode::InvalidArgument, "huge.npy", "shorter");
  // Sizes that overflow: the element count, and the byte count (2^62 * 4).
  EXPECT_KILN_ERROR(read_npy(npy_claiming(dir, "n.npy", "(4294967296, 4294967296)", 16)),
                    ErrorCode::InvalidArgument, "n.npy");
  EXPECT_KILN_ERROR(read_npy(npy_claiming(dir, "b.npy", "(4611686018427387904,)", 16)),
                    ErrorCode::InvalidArgument, "b.npy");
  // Exactly enough data still reads.
  EXPECT_EQ(read_npy(npy_claiming(dir, "ok.npy", "(2, 3)", 24)).shape(), (Shape{2, 3}));
}

}  // namespace
}  // namespace kiln::test

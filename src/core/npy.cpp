#include "core/npy.h"

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "kiln/error.h"

namespace kiln {

namespace {
constexpr char k_magic[] = "\x93NUMPY";

std::string descr_of(DataType dt) {
  switch (dt) {
    case DataType::Float32: return "<f4";
    case DataType::Float64: return "<f8";
    case DataType::Float16: return "<f2";
    case DataType::Int8: return "|i1";
    case DataType::Int16: return "<i2";
    case DataType::Int32: return "<i4";
    case DataType::Int64: return "<i8";
    case DataType::UInt8: return "|u1";
    case DataType::UInt16: return "<u2";
    case DataType::UInt32: return "<u4";
    case DataType::UInt64: return "<u8";
    case DataType::Bool: return "|b1";
    default:
      throw Error(ErrorCode::Unsupported, "dtype " + std::string(dtype_name(dt)) + " has no .npy form");
  }
}
}  // namespace

Tensor read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::IO, path + ": cannot open");
  const auto fail = [&](const std::string& why) -> Error {
    return Error(ErrorCode::InvalidArgument, path + ": not a valid .npy file: " + why);
  };
  char magic[6];
  unsigned char ver[2];
  if (!in.read(magic, 6) || std::string(magic, 6) != std::string(k_magic, 6)) throw fail("bad magic");
  if (!in.read(reinterpret_cast<char*>(ver), 2)) throw fail("truncated");
  uint32_t header_len = 0;
  if (ver[0] == 1) {
    unsigned char b[2];
    if (!in.read(reinterpret_cast<char*>(b), 2)) throw fail("truncated");
    header_len = b[0] | (b[1] << 8);
  } else if (ver[0] == 2 || ver[0] == 3) {
    unsigned char b[4];
    if (!in.read(reinterpret_cast<char*>(b), 4)) throw fail("truncated");
    header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<uint32_t>(b[3]) << 24);
  } else {
    throw fail("unknown version " + std::to_string(ver[0]));
  }
  if (header_len > (1u << 20)) throw fail("header too long");
  std::string header(header_len, '\0');
  if (!in.read(header.data(), header_len)) throw fail("truncated header");

  std::smatch m;
  if (!std::regex_search(header, m, std::regex("'descr'\\s*:\\s*'([^']+)'"))) throw fail("no descr");
  const std::string descr = m[1];
  DataType dt;
  if (!dtype_from_name(descr, &dt) || descr[0] == '>') throw fail("unsupported dtype '" + descr + "'");
  if (std::regex_search(header, m, std::regex("'fortran_order'\\s*:\\s*True")))
    throw fail("Fortran-order arrays are not supported; save with np.ascontiguousarray");
  if (!std::regex_search(header, m, std::regex("'shape'\\s*:\\s*\\(([^)]*)\\)"))) throw fail("no shape");
  Shape shape;
  std::stringstream dims(m[1].str());
  std::string item;
  while (std::getline(dims, item, ',')) {
    if (item.find_first_not_of(" \t") == std::string::npos) continue;
    try {
      shape.push_back(std::stoll(item));
    } catch (const std::exception&) {
      throw fail("bad shape entry '" + item + "'");
    }
    if (shape.back() < 0) throw fail("negative dimension");
  }
  // The shape is the file's claim: check it against the bytes the file still
  // holds before allocating (a 1 KB file must not cost 600 MB first).
  int64_t numel = 0;
  try {
    numel = shape_numel(shape);
  } catch (const Error& e) {
    throw fail(e.message());  // the element count overflows
  }
  uint64_t need = 0;
  if (__builtin_mul_overflow(static_cast<uint64_t>(numel), static_cast<uint64_t>(dtype_size(dt)), &need))
    throw fail("shape " + shape_str(shape) + " of " + std::string(dtype_name(dt)) + " overflows the byte count");
  std::error_code ec;
  const std::filesystem::path p(path);
  const std::streamoff data_start = in.tellg();
  // A pipe or device has no size to check; its data ends the read instead.
  if (std::filesystem::is_regular_file(p, ec) && data_start >= 0) {
    const uintmax_t size = std::filesystem::file_size(p, ec);
    const auto start = static_cast<uintmax_t>(data_start);
    const uint64_t left = !ec && size > start ? size - start : 0;
    if (!ec && left < need)
      throw fail("data shorter than shape " + shape_str(shape) + " implies: " + std::to_string(left) + " bytes, " +
                 std::string(dtype_name(dt)) + " needs " + std::to_string(need));
  }
  Tensor t = Tensor::empty(dt, shape);
  if (!in.read(static_cast<char*>(t.raw()), static_cast<std::streamsize>(t.nbytes())))
    throw fail("data shorter than shape " + shape_str(shape) + " implies");
  return t;
}

void write_npy(const std::string& path, const Tensor& t) {
  std::string shape = "(";
  for (int64_t d : t.shape()) shape += std::to_string(d) + ",";
  if (t.rank() > 1) shape.pop_back();
  shape += ")";
  std::string header = "{'descr': '" + descr_of(t.dtype()) + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Pad so that the data starts on a 64-byte boundary, newline-terminated.
  const size_t total = 10 + header.size() + 1;
  header += std::string((64 - total % 64) % 64, ' ') + "\n";
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(ErrorCode::IO, path + ": cannot write");
  out.write(k_magic, 6);
  const char ver[2] = {1, 0};
  out.write(ver, 2);
  const uint16_t len = static_cast<uint16_t>(header.size());
  const char lb[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
  out.write(lb, 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(static_cast<const char*>(t.raw()), static_cast<std::streamsize>(t.nbytes()));
  if (!out) throw Error(ErrorCode::IO, path + ": write failed");
}

}  // namespace kiln

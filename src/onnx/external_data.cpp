#include "onnx/external_data.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <vector>

#include <onnx/onnx_pb.h>

#include "kiln/error.h"

namespace kiln::onnx {

namespace {

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { if (fd >= 0) ::close(fd); }
};

[[noreturn]] void refuse(const std::string& label, const std::string& what) {
  throw Error(ErrorCode::InvalidModel, label + ": external data " + what);
}

uint64_t parse_u64(const std::string& text, const std::string& key, const std::string& label) {
  if (text.empty() || text.size() > 20) refuse(label, key + " '" + text + "' is not a byte count");
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') refuse(label, key + " '" + text + "' is not a byte count");
    const auto digit = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - digit) / 10)
      refuse(label, key + " '" + text + "' overflows");
    v = v * 10 + digit;
  }
  // Offsets go to pread as off_t.
  if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    refuse(label, key + " '" + text + "' is too large");
  return v;
}

// Splits a relative location into its components; refuses what could escape.
std::vector<std::string> components(const std::string& location, const std::string& label) {
  if (location.empty()) refuse(label, "has an empty location");
  if (location.find('\0') != std::string::npos) refuse(label, "location contains a NUL byte");
  if (location.front() == '/') refuse(label, "location '" + location + "' is an absolute path");
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= location.size()) {
    size_t end = location.find('/', start);
    if (end == std::string::npos) end = location.size();
    std::string part = location.substr(start, end - start);
    if (part == "..")
      refuse(label, "location '" + location + "' has a '..' component (it must stay inside the model's directory)");
    if (!part.empty() && part != ".") parts.push_back(std::move(part));
    start = end + 1;
  }
  if (parts.empty()) refuse(label, "location '" + location + "' names no file");
  return parts;
}

void check_not_symlink(int dir_fd, const std::string& part, const std::string& location,
                       const std::string& label) {
  struct stat st {};
  if (::fstatat(dir_fd, part.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    const int err = errno;
    throw Error(ErrorCode::IO, label + ": external data file '" + location + "': cannot access '" +
                                   part + "': " + std::strerror(err));
  }
  if (S_ISLNK(st.st_mode))
    refuse(label, "location '" + location + "': '" + part + "' is a symbolic link, which kiln does not follow");
}

}  // namespace

ExternalRef ExternalDataResolver::parse(const ::onnx::TensorProto& tensor, uint64_t expected_bytes,
                                        const std::string& label) const {
  if (m_base_dir.empty())
    throw Error(ErrorCode::InvalidArgument,
                label + ": uses external data, but the model was given without a directory to resolve it");
  ExternalRef ref;
  bool has_location = false, has_offset = false, has_length = false;
  for (const auto& entry : tensor.external_data()) {
    const std::string& key = entry.key();
    bool* seen = key == "location" ? &has_location
               : key == "offset"   ? &has_offset
               : key == "length"   ? &has_length
                                   : nullptr;
    if (!seen) continue;  // "checksum" and future keys do not change where the bytes are
    if (*seen) refuse(label, "has two '" + key + "' entries");
    *seen = true;
    if (key == "location") ref.location = entry.value();
    if (key == "offset") ref.offset = parse_u64(entry.value(), "offset", label);
    if (key == "length") ref.length = parse_u64(entry.value(), "length", label);
  }
  if (!has_location) refuse(label, "has no 'location' entry");
  components(ref.location, label);
  if (has_length && ref.length != expected_bytes)
    refuse(label, "length " + std::to_string(ref.length) + " does not match the " +
                      std::to_string(expected_bytes) + " bytes the tensor's shape and dtype imply");
  ref.length = expected_bytes;
  if (ref.offset > std::numeric_limits<uint64_t>::max() - ref.length)
    refuse(label, "offset + length overflows");
  return ref;
}

void ExternalDataResolver::read(const ExternalRef& ref, void* dst, const std::string& label) const {
  if (m_base_dir.empty())
    throw Error(ErrorCode::InvalidArgument, label + ": external data needs the model's directory");
  const std::vector<std::string> parts = components(ref.location, label);
  const std::string where = label + ": external data file '" + ref.location + "'";

  Fd dir(::open(m_base_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.fd < 0)
    throw Error(ErrorCode::IO, where + ": cannot open model directory '" + m_base_dir +
                                   "': " + std::strerror(errno));
  // Walk with openat + O_NOFOLLOW so a symlink swapped in after the check is
  // still not followed.
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    check_not_symlink(dir.fd, parts[i], ref.location, label);
    const int next = ::openat(dir.fd, parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) {
      const int err = errno;
      if (err == ENOTDIR || err == ELOOP) refuse(label, "location '" + ref.location + "': '" + parts[i] + "' is not a directory");
      throw Error(ErrorCode::IO, where + ": cannot open '" + parts[i] + "': " + std::strerror(err));
    }
    ::close(dir.fd);
    dir.fd = next;
  }
  check_not_symlink(dir.fd, parts.back(), ref.location, label);
  Fd file(::openat(dir.fd, parts.back().c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (file.fd < 0) {
    const int err = errno;
    if (err == ELOOP) refuse(label, "location '" + ref.location + "' is a symbolic link");
    throw Error(ErrorCode::IO, where + ": cannot open: " + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(file.fd, &st) != 0)
    throw Error(ErrorCode::IO, where + ": cannot stat: " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) refuse(label, "location '" + ref.location + "' is not a regular file");
  const auto size = static_cast<uint64_t>(st.st_size);
  if (ref.offset > size || ref.length > size - ref.offset)
    refuse(label, "range [" + std::to_string(ref.offset) + ", " + std::to_string(ref.offset + ref.length) +
                      ") lies past the end of '" + ref.location + "' (" + std::to_string(size) + " bytes)");

  auto* out = static_cast<char*>(dst);
  uint64_t done = 0;
  while (done < ref.length) {
    // Chunks keep each pread well under the kernel's 2 GiB per-call limit.
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(ref.length - done, uint64_t{1} << 30));
    const ssize_t n = ::pread(file.fd, out + done, chunk, static_cast<off_t>(ref.offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(ErrorCode::IO, where + ": read failed: " + std::strerror(errno));
    if (n == 0) throw Error(ErrorCode::IO, where + ": file shrank while being read");
    done += static_cast<uint64_t>(n);
  }
}

}  // namespace kiln::onnx

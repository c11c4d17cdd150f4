#include "core/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kiln {

namespace {
struct Fd {
  int fd = -1;
  ~Fd() { if (fd >= 0) ::close(fd); }
};

std::string limit_str(uint64_t bytes) {
  return bytes % (uint64_t{1} << 30) == 0 ? std::to_string(bytes >> 30) + " GiB" : std::to_string(bytes) + " bytes";
}
}  // namespace

std::string read_file(const std::string& path, const std::string& what, uint64_t max_bytes, ErrorCode oversize_code,
                      const std::string& oversize_hint) {
  const std::string label = what + " file '" + path + "'";
  if (path.empty()) throw Error(ErrorCode::IO, "empty " + what + " file path");
  // O_NONBLOCK: opening a FIFO must not hang; it is refused below as not regular.
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
  if (f.fd < 0) {
    const int err = errno;
    throw Error(ErrorCode::IO, "cannot open " + label + ": " + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) throw Error(ErrorCode::IO, "cannot stat " + label + ": " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw Error(ErrorCode::IO, label + " is a directory");
  if (!S_ISREG(st.st_mode)) throw Error(ErrorCode::IO, label + " is not a regular file");
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes)
    throw Error(oversize_code, label + " is " + std::to_string(size) + " bytes, more than the limit of " +
                                   limit_str(max_bytes) + (oversize_hint.empty() ? "" : " (" + oversize_hint + ")"));
  std::string bytes(static_cast<size_t>(size), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(f.fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(ErrorCode::IO, "cannot read " + label + ": " + std::strerror(errno));
    if (n == 0) break;  // the file shrank while we read it
    done += static_cast<size_t>(n);
  }
  if (done != bytes.size()) throw Error(ErrorCode::IO, label + " changed size while being read");
  return bytes;
}

}  // namespace kiln

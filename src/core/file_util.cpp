#include "core/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "kiln/error.h"

namespace kiln {

namespace {
Error io_error(const std::string& path, const std::string& what) {
  return Error(ErrorCode::IO, path + ": " + what + ": " + std::strerror(errno));
}
}  // namespace

std::vector<uint8_t> read_file(const std::string& path, uint64_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw io_error(path, "cannot open");
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw io_error(path, "cannot stat");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(ErrorCode::IO, path + ": not a regular file" + (S_ISDIR(st.st_mode) ? " (it is a directory)" : ""));
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    throw Error(ErrorCode::IO, path + ": file is " + std::to_string(st.st_size) + " bytes, over the limit");
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      throw io_error(path, "read failed");
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return bytes;
}

std::string read_text_file(const std::string& path) {
  const auto b = read_file(path);
  return std::string(b.begin(), b.end());
}

}  // namespace kiln

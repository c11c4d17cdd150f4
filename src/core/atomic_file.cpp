#include "core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <random>
#include <system_error>

#include "kiln/error.h"

namespace kiln {

namespace fs = std::filesystem;

std::string errno_string(int err) { return std::error_code(err, std::generic_category()).message(); }

fs::path unique_temp_path(const fs::path& dir, std::string_view stem) {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 rng{std::random_device{}() ^ static_cast<uint64_t>(::getpid())};
  std::string name(k_temp_prefix);
  name += stem;
  name += "-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1)) + "-" +
          std::to_string(rng() & 0xffffffffu);
  return dir / name;
}

namespace {

[[noreturn]] void throw_io(const std::string& what, const fs::path& path, int err) {
  throw Error(ErrorCode::IO, what + " " + path.string() + ": " + errno_string(err));
}

void write_all(int fd, const uint8_t* data, size_t size, const fs::path& path) {
  while (size > 0) {
    const size_t chunk = size < (size_t{1} << 30) ? size : (size_t{1} << 30);
    const ssize_t n = ::write(fd, data, chunk);
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      throw_io("cannot write", path, err);
    }
    if (n == 0) throw_io("cannot write", path, EIO);
    data += n;
    size -= static_cast<size_t>(n);
  }
}

}  // namespace

void write_file_atomic(const fs::path& path, std::span<const uint8_t> bytes) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  fs::path temp;
  int fd = -1;
  for (int attempt = 0; fd < 0; ++attempt) {
    temp = unique_temp_path(dir, path.filename().string());
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    const int err = errno;
    if (fd < 0 && (err != EEXIST || attempt >= 8)) throw_io("cannot create", temp, err);
  }
  try {
    write_all(fd, bytes.data(), bytes.size(), temp);
    if (::fsync(fd) != 0) {
      const int err = errno;
      throw_io("cannot fsync", temp, err);
    }
    const int fd_to_close = fd;
    fd = -1;
    // close() can report a deferred write error (NFS, some quotas).
    if (::close(fd_to_close) != 0) {
      const int err = errno;
      throw_io("cannot close", temp, err);
    }
    if (::rename(temp.c_str(), path.c_str()) != 0) {
      const int err = errno;
      throw_io("cannot rename " + temp.string() + " to", path, err);
    }
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(temp.c_str());
    throw;
  }
  // Make the rename itself durable; failure here loses nothing already visible.
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

size_t remove_stale_temp_files(const fs::path& dir, std::chrono::seconds max_age) {
  size_t removed = 0;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) return 0;
  const time_t now = ::time(nullptr);
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const std::string name = it->path().filename().string();
    if (name.rfind(k_temp_prefix, 0) != 0) continue;
    struct stat st;
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (now - st.st_mtime < max_age.count()) continue;
    if (::unlink(it->path().c_str()) == 0) ++removed;  // ENOENT: another process got there first
  }
  return removed;
}

}  // namespace kiln

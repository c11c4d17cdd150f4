#include "core/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
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
  // Chunks of 64 MiB: each write() moves the mtime, which tells cleaners on
  // other hosts that the writer is alive (k_dead_writer_temp_age).
  constexpr size_t k_chunk = size_t{64} << 20;
  while (size > 0) {
    const size_t chunk = size < k_chunk ? size : k_chunk;
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
  // Held until close: tells cleaners a writer is alive whatever its PID means
  // to them (another PID namespace). Best effort: no lock support is no error.
  ::flock(fd, LOCK_EX | LOCK_NB);
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

namespace {

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// True only when the writer is known to be gone (see atomic_file.h): its PID
// does not exist here and nobody holds the file's lock.
bool writer_gone(const fs::path& path, std::string_view name) {
  const long pid = temp_file_writer_pid(name);
  if (pid <= 0) return false;
  if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) return false;  // EPERM: alive, another user's
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return false;
  const bool unlocked = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
  ::close(fd);
  return unlocked;
}

}  // namespace

long temp_file_writer_pid(std::string_view name) {
  if (name.substr(0, k_temp_prefix.size()) != k_temp_prefix) return -1;
  // "<prefix><stem>-<pid>-<n>-<random>": fields taken from the right, as the
  // stem may hold '-' itself.
  std::string_view rest = name;
  std::string_view field;
  for (int i = 0; i < 3; ++i) {
    const size_t dash = rest.rfind('-');
    if (dash == std::string_view::npos || dash < k_temp_prefix.size()) return -1;
    field = rest.substr(dash + 1);
    if (!all_digits(field)) return -1;
    rest = rest.substr(0, dash);
  }
  if (field.size() > 9) return -1;  // pid_max is at most 2^22
  long pid = 0;
  for (char c : field) pid = pid * 10 + (c - '0');
  return pid > 0 ? pid : -1;
}

TempFiles scan_temp_files(const fs::path& dir, bool remove, std::chrono::seconds max_age, bool dead_writers) {
  TempFiles t;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) return t;
  const time_t now = ::time(nullptr);
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const std::string name = it->path().filename().string();
    if (name.rfind(k_temp_prefix, 0) != 0) continue;
    struct stat st;
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    const time_t age = now - st.st_mtime;
    const bool stale = remove && (age >= max_age.count() || (dead_writers && age >= k_dead_writer_temp_age.count() &&
                                                             writer_gone(it->path(), name)));
    if (stale && ::unlink(it->path().c_str()) == 0) {
      ++t.removed;
      t.removed_bytes += static_cast<uint64_t>(st.st_size);
    } else if (!stale || errno != ENOENT) {  // ENOENT: another process removed it first
      ++t.kept;
      t.kept_bytes += static_cast<uint64_t>(st.st_size);
    }
  }
  return t;
}

size_t remove_stale_temp_files(const fs::path& dir, std::chrono::seconds max_age) {
  return scan_temp_files(dir, true, max_age, false).removed;
}

}  // namespace kiln

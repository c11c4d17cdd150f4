// Per-key build locks: a lock file flock()ed while one process builds a key.
// flock() locks die with their holder, so a crashed builder never leaves a key
// locked. The holder unlinks the file before unlocking, so lock files do not pile
// up; a waiter that then gets the lock on the unlinked file notices (its inode
// is no longer at the path) and retries on the fresh file.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>

#include "cache/disk_engine_cache.h"
#include "kiln/engine_cache.h"

namespace kiln::cache {

namespace fs = std::filesystem;

namespace {

// True when fd's file is the one currently linked at path.
bool still_linked(int fd, const fs::path& path) {
  struct stat a, b;
  if (::fstat(fd, &a) != 0 || ::stat(path.c_str(), &b) != 0) return false;
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

}  // namespace

int acquire_lock_file(const fs::path& path, std::chrono::milliseconds timeout) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  auto backoff = std::chrono::milliseconds(1);
  for (int reopen = 0;; ++reopen) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 && errno == ENOENT && reopen < 3) {
      ::mkdir(path.parent_path().c_str(), 0755);
      continue;
    }
    if (fd < 0) return -1;
    for (;;) {
      if (::flock(fd, LOCK_EX | LOCK_NB) == 0) break;
      const int err = errno;
      if (err == EINTR) continue;
      if (err != EWOULDBLOCK || Clock::now() >= deadline) {
        ::close(fd);
        errno = err;
        return -1;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      std::this_thread::sleep_for(std::max(std::chrono::milliseconds(0), std::min(backoff, left)));
      backoff = std::min(backoff * 2, std::chrono::milliseconds(50));
    }
    if (still_linked(fd, path)) return fd;
    ::close(fd);  // the previous holder unlinked it as we waited: lock the new one
    if (Clock::now() >= deadline) {
      errno = EWOULDBLOCK;
      return -1;
    }
  }
}

void release_lock_file(int fd, const fs::path& path) {
  ::unlink(path.c_str());  // while still locked: see the file comment
  ::close(fd);
}

size_t remove_unheld_lock_files(const fs::path& root) {
  size_t removed = 0;
  std::error_code ec;
  fs::directory_iterator it(root / k_locks_dir, ec);
  if (ec) return 0;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const int fd = ::open(it->path().c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) continue;
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0 && still_linked(fd, it->path())) {
      if (::unlink(it->path().c_str()) == 0) ++removed;
    }
    ::close(fd);
  }
  return removed;
}

}  // namespace kiln::cache

namespace kiln {

BuildLock::BuildLock(int fd, std::filesystem::path path, std::string hash)
    : m_fd(fd), m_path(std::move(path)), m_hash(std::move(hash)) {}

BuildLock::~BuildLock() { cache::release_lock_file(m_fd, m_path); }

}  // namespace kiln

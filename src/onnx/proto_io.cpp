#include "onnx/proto_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/message_lite.h>

#include "kiln/error.h"

namespace kiln::onnx {

namespace {
struct Fd {
  int fd = -1;
  ~Fd() { if (fd >= 0) ::close(fd); }
};
}  // namespace

std::string read_file_bytes(const std::string& path, size_t max_bytes, const std::string& what) {
  const std::string label = what + " file '" + path + "'";
  if (path.empty()) throw Error(ErrorCode::IO, "empty " + what + " file path");
  // O_NONBLOCK: opening a FIFO must not hang; it is refused below as not regular.
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
  if (f.fd < 0) {
    const int err = errno;
    throw Error(ErrorCode::IO, "cannot open " + label + ": " + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0)
    throw Error(ErrorCode::IO, "cannot stat " + label + ": " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw Error(ErrorCode::IO, label + " is a directory");
  if (!S_ISREG(st.st_mode)) throw Error(ErrorCode::IO, label + " is not a regular file");
  const auto size = static_cast<size_t>(st.st_size);
  if (size > max_bytes)
    throw Error(ErrorCode::InvalidModel,
                label + " is " + std::to_string(size) + " bytes, more than the limit of " +
                    (max_bytes % (size_t{1} << 30) == 0 ? std::to_string(max_bytes >> 30) + " GiB"
                                                        : std::to_string(max_bytes) + " bytes") +
                    " (store large weights as external data)");
  std::string bytes(size, '\0');
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(f.fd, bytes.data() + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(ErrorCode::IO, "cannot read " + label + ": " + std::strerror(errno));
    if (n == 0) break;  // the file shrank while we read it
    done += static_cast<size_t>(n);
  }
  if (done != size)
    throw Error(ErrorCode::IO, label + " changed size while being read");
  return bytes;
}

bool parse_proto(const std::string& bytes, google::protobuf::MessageLite& msg) {
  if (bytes.size() > static_cast<size_t>(INT_MAX)) return false;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  in.SetTotalBytesLimit(INT_MAX);
  // A stray end-group tag stops parsing early without failing; treat it as corrupt.
  if (!msg.ParseFromCodedStream(&in)) return false;
  return in.ConsumedEntireMessage();
}

}  // namespace kiln::onnx

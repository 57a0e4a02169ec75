#include "common/files.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <sstream>

namespace dcas {

namespace {
Result<void> write_with_mode(const std::filesystem::path& path, ByteView data, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return fail(Errc::io_error, fmt::format("cannot create {}", path.string()));
  bool ok = ::fchmod(fd, mode) == 0;
  std::size_t done = 0;
  while (ok && done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n <= 0)
      ok = false;
    else
      done += static_cast<std::size_t>(n);
  }
  ok = ::fsync(fd) == 0 && ok;
  ok = ::close(fd) == 0 && ok;
  if (!ok) return fail(Errc::io_error, fmt::format("cannot write {}", path.string()));
  return {};
}
}  // namespace

Result<void> write_secret_file(const std::filesystem::path& path, ByteView data) {
  return write_with_mode(path, data, 0600);
}

Result<void> write_public_file(const std::filesystem::path& path, ByteView data) {
  return write_with_mode(path, data, 0644);
}

namespace {
// libstdc++'s filebuf throws std::ios_failure when a read fails mid-file (EISDIR, EIO): the
// exception stops here and becomes an error.
template <typename Container>
Result<Container> read_whole(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    return fail(Errc::io_error, fmt::format("{} is a directory, not a file", path.string()));
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(Errc::io_error, fmt::format("cannot open {}", path.string()));
  try {
    Container out{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (in.bad()) return fail(Errc::io_error, fmt::format("cannot read {}", path.string()));
    return out;
  } catch (const std::exception&) {
    return fail(Errc::io_error, fmt::format("cannot read {}", path.string()));
  }
}
}  // namespace

Result<std::string> read_text_file(const std::filesystem::path& path) { return read_whole<std::string>(path); }

Result<Bytes> read_binary_file(const std::filesystem::path& path) { return read_whole<Bytes>(path); }

}  // namespace dcas

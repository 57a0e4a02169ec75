// The known-answer vector files (tests/kat/*.txt), compiled into the library by cmake/embed_kat.cmake.
#pragma once

#include <span>
#include <string_view>

namespace dcas::kat {

struct EmbeddedFile {
  std::string_view name;
  std::string_view content;
};

std::span<const EmbeddedFile> embedded_files();

}  // namespace dcas::kat

#include "common/records.h"

#include <fmt/format.h>

#include <algorithm>

namespace dcas {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

Result<Bytes> Record::hex(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fail(Errc::invalid_argument, fmt::format("line {}: no attribute {}", line, name));
  used_.insert(name);
  auto bytes = from_hex(it->second);
  if (!bytes) return fail(Errc::bad_hex, fmt::format("line {}: {}: {}", line, name, bytes.error().detail));
  return bytes;
}

Result<std::string> Record::word(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fail(Errc::invalid_argument, fmt::format("line {}: no attribute {}", line, name));
  used_.insert(name);
  return it->second;
}

std::vector<std::string> Record::unused() const {
  std::vector<std::string> out;
  for (const auto& [name, value] : values_)
    if (!used_.contains(name)) out.push_back(name);
  return out;
}

Result<std::vector<Record>> parse_records(std::string_view text) {
  std::vector<Record> records;
  bool in_record = false;
  std::size_t line_no = 0;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    const std::string_view raw = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++line_no;
    const std::string_view line = trim(raw);
    if (line.starts_with('#')) continue;
    if (line.empty()) {
      in_record = false;
      continue;
    }
    const auto eq = line.find('=');
    if (eq == std::string_view::npos)
      return fail(Errc::invalid_argument, fmt::format("line {}: expected 'Name = value'", line_no));
    const std::string name(trim(line.substr(0, eq)));
    if (name.empty()) return fail(Errc::invalid_argument, fmt::format("line {}: empty attribute name", line_no));
    if (!in_record) {
      records.emplace_back();
      records.back().line = line_no;
      in_record = true;
    }
    if (records.back().has(name))
      return fail(Errc::invalid_argument, fmt::format("line {}: duplicate attribute {}", line_no, name));
    records.back().set(name, std::string(trim(line.substr(eq + 1))));
  }
  return records;
}

}  // namespace dcas

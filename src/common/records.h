// "Name = value" records: the one loader for known-answer vector files (and the Ki file).
//
// Format: '#' starts a comment line; a record is a run of "Name = value" lines; records are
// separated by blank lines. Values are hex unless the runner reads them as words. Like BoringSSL's
// FileTest, a record whose attribute the runner never read is a failure: a typo in a vector file
// cannot silently skip a check.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"

namespace dcas {

class Record {
 public:
  std::size_t line = 0;  // first line of the record, for messages

  bool has(const std::string& name) const { return values_.contains(name); }
  // Errors: invalid_argument (missing), bad_hex.
  Result<Bytes> hex(const std::string& name) const;
  Result<std::string> word(const std::string& name) const;
  std::vector<std::string> unused() const;

  const std::map<std::string, std::string>& entries() const {
    for (const auto& [name, value] : values_) used_.insert(name);
    return values_;
  }
  void set(std::string name, std::string value) { values_[std::move(name)] = std::move(value); }

 private:
  std::map<std::string, std::string> values_;
  mutable std::set<std::string> used_;
};

// `s` without its leading and trailing spaces, tabs and carriage returns: the blanks around a
// "name = value" line's parts, here and in the configuration files (cli/config_file.cpp).
std::string_view trim(std::string_view s);

// Errors: invalid_argument with the line number (malformed line, duplicate attribute).
Result<std::vector<Record>> parse_records(std::string_view text);

}  // namespace dcas

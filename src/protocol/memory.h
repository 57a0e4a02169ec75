// Secure non-volatile memory of a device role (the SM's and the TP's "secure area of nonvolatile
// memory" in the paper): what survives a power cycle. Roles read and write it through this
// interface; the in-memory implementation serves tests and single-process runs.
#pragma once

#include <optional>

#include "common/error.h"

namespace dcas::protocol {

template <typename T>
class NonVolatile {
 public:
  virtual ~NonVolatile() = default;
  virtual std::optional<T> load() const = 0;
  // Durable before it returns. Errors: io_error.
  virtual Result<void> store(const T& value) = 0;
};

template <typename T>
class MemoryNonVolatile final : public NonVolatile<T> {
 public:
  std::optional<T> load() const override { return value_; }
  Result<void> store(const T& value) override {
    value_ = value;
    return {};
  }

 private:
  std::optional<T> value_;
};

}  // namespace dcas::protocol

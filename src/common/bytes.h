// Byte containers: plain bytes for public data, zeroizing bytes for secrets; hex conversion.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace dcas {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

// Allocator that wipes memory before releasing it, so secrets do not linger in freed heap.
template <typename T>
struct ZeroizingAllocator {
  using value_type = T;
  ZeroizingAllocator() noexcept = default;
  template <typename U>
  ZeroizingAllocator(const ZeroizingAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return std::allocator<T>{}.allocate(n); }
  void deallocate(T* p, std::size_t n) noexcept;
  template <typename U>
  bool operator==(const ZeroizingAllocator<U>&) const noexcept {
    return true;
  }
};

void secure_wipe(void* p, std::size_t n) noexcept;

template <typename T>
void ZeroizingAllocator<T>::deallocate(T* p, std::size_t n) noexcept {
  secure_wipe(p, n * sizeof(T));
  std::allocator<T>{}.deallocate(p, n);
}

// Secret bytes (keys, KPK, CWs): wiped when freed or reallocated.
using SecureBytes = std::vector<std::uint8_t, ZeroizingAllocator<std::uint8_t>>;

inline ByteView view(const SecureBytes& b) { return {b.data(), b.size()}; }
// Wipes and releases a secret now, not when its buffer is freed: clear() alone keeps the bytes.
inline void wipe(SecureBytes& b) noexcept { SecureBytes().swap(b); }
inline ByteView view(std::string_view s) { return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}; }

std::string to_hex(ByteView data);
// Lowercase or uppercase hex, even length, no separators. Errors: bad_hex.
Result<Bytes> from_hex(std::string_view hex);
// As from_hex, and the result must be exactly `expected_size` bytes. Errors: bad_hex, bad_length.
Result<Bytes> from_hex_exact(std::string_view hex, std::size_t expected_size, std::string_view what);

Bytes concat(std::initializer_list<ByteView> parts);

// Constant-time equality: the running time depends only on the lengths, never on the contents.
bool equal_ct(ByteView a, ByteView b) noexcept;

}  // namespace dcas

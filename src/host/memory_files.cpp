#include "host/memory_files.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include "common/files.h"
#include "common/records.h"
#include "protocol/client_image.h"

namespace dcas::host {

namespace {

// A line that memories written before it existed lack (the CRL): empty when absent.
Result<Bytes> optional_hex(const Record& r, const std::string& name) {
  if (!r.has(name)) return Bytes{};
  return r.hex(name);
}

constexpr std::size_t entitlement_record = 4 * 8 + protocol::cas_key_size;

SecureBytes encode_entitlements(const std::vector<protocol::HeldProductKey>& held) {
  SecureBytes out;
  for (const auto& h : held) {
    for (std::uint64_t v :
         {h.entitlement.product_id, h.entitlement.key_epoch, h.entitlement.expires_at, h.entitlement.issued_at})
      for (int i = 7; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    out.insert(out.end(), h.key.begin(), h.key.end());
  }
  return out;
}

Result<std::vector<protocol::HeldProductKey>> decode_entitlements(ByteView bytes) {
  if (bytes.size() % entitlement_record != 0) return fail(Errc::invalid_argument, "entitlements are malformed");
  std::vector<protocol::HeldProductKey> out;
  for (std::size_t at = 0; at < bytes.size(); at += entitlement_record) {
    std::uint64_t v[4] = {};
    for (int f = 0; f < 4; ++f)
      for (int i = 0; i < 8; ++i) v[f] = v[f] << 8 | bytes[at + 8 * f + i];
    const auto key = bytes.subspan(at + 32, protocol::cas_key_size);
    out.push_back({{v[0], v[2], v[3], v[1]}, SecureBytes(key.begin(), key.end())});
  }
  return out;
}

// The public fields are formatted first; the secret ones (the CA key, the product keys) are
// appended into space reserved for them, and every copy of their hex is wiped.
std::string encode(const protocol::SmMemory& m) {
  const protocol::InstalledImage none;
  const auto& image = m.image ? *m.image : none;
  Bytes version(8);
  for (int i = 0; i < 8; ++i) version[i] = static_cast<std::uint8_t>(image.version >> (56 - 8 * i));
  std::string out = fmt::format(
      "# DCAS SM secure memory\nap_certificate = {}\nnetwork_id = {}\ntp_id = {}\ntp_public_key = {}\n"
      "# the newest CRL (empty: none)\ncrl = {}\n"
      "# the installed CA client image (all empty: none, the SM is virgin)\nimage_network_id = {}\n"
      "image_version = {}\nimage_code_digest = {}\n",
      to_hex(m.ap_certificate), to_hex(m.network_id), to_hex(m.tp_id), to_hex(m.tp_public_key), to_hex(m.crl),
      to_hex(image.network_id), m.image ? to_hex(version) : "", to_hex(image.code_digest));
  std::string ca_key = to_hex(view(image.ca_key));
  const SecureBytes held = encode_entitlements(m.entitlements);
  std::string entitlements = to_hex(view(held));
  static constexpr std::string_view ca_label = "image_ca_key = ",
                                    keys_label =
                                        "\n# the CA client's product keys: product, key epoch, expiry, issue time "
                                        "(u64 each), key (16 bytes)\nentitlements = ";
  out.reserve(out.size() + ca_label.size() + ca_key.size() + keys_label.size() + entitlements.size() + 1);
  out.append(ca_label).append(ca_key).append(keys_label).append(entitlements).append("\n");
  secure_wipe(ca_key.data(), ca_key.size());
  secure_wipe(entitlements.data(), entitlements.size());
  return out;
}

std::string encode(const protocol::TpMemory& m) {
  return fmt::format(
      "# DCAS TP secure memory\nsm_id = {}\nsm_public_key = {}\n# the newest CRL (empty: none)\ncrl = {}\n",
      to_hex(m.sm_id), to_hex(m.sm_public_key), to_hex(m.crl));
}

Result<void> decode(const Record& r, protocol::SmMemory& m) {
  DCAS_TRY_ASSIGN(cert, r.hex("ap_certificate"));
  DCAS_TRY_ASSIGN(network, r.hex("network_id"));
  DCAS_TRY_ASSIGN(tp, r.hex("tp_id"));
  DCAS_TRY_ASSIGN(key, r.hex("tp_public_key"));
  DCAS_TRY_ASSIGN(image_network, r.hex("image_network_id"));
  DCAS_TRY_ASSIGN(version, r.hex("image_version"));
  DCAS_TRY_ASSIGN(ca_key, r.hex("image_ca_key"));
  DCAS_TRY_ASSIGN(digest, r.hex("image_code_digest"));
  DCAS_TRY_ASSIGN(crl, optional_hex(r, "crl"));
  m = {cert, network, std::nullopt, tp, key, crl, {}};
  if (r.has("entitlements")) {
    DCAS_TRY_ASSIGN(held, r.hex("entitlements"));
    auto decoded = decode_entitlements(held);
    secure_wipe(held.data(), held.size());
    if (!decoded) return std::unexpected(decoded.error());
    m.entitlements = std::move(*decoded);
  }
  if (image_network.empty() && version.empty() && ca_key.empty() && digest.empty()) return {};
  if (image_network.size() != 8 || version.size() != 8 || ca_key.size() != protocol::ca_key_size || digest.size() != 32)
    return fail(Errc::invalid_argument, "installed image fields are malformed");
  std::uint64_t v = 0;
  for (auto b : version) v = v << 8 | b;
  m.image = protocol::InstalledImage{image_network, v, SecureBytes(ca_key.begin(), ca_key.end()), digest};
  secure_wipe(ca_key.data(), ca_key.size());
  return {};
}

Result<void> decode(const Record& r, protocol::TpMemory& m) {
  DCAS_TRY_ASSIGN(sm, r.hex("sm_id"));
  DCAS_TRY_ASSIGN(key, r.hex("sm_public_key"));
  DCAS_TRY_ASSIGN(crl, optional_hex(r, "crl"));
  m = {sm, key, crl};
  return {};
}

}  // namespace

template <typename T>
Result<std::unique_ptr<MemoryFile<T>>> MemoryFile<T>::open(std::filesystem::path path) {
  std::unique_ptr<MemoryFile> file(new MemoryFile(std::move(path)));
  if (!std::filesystem::exists(file->path_)) return file;
  // A damaged memory is a failed device, not a usage error: io_error, naming the file and the fault.
  auto refuse = [&](const Error& e) {
    return std::unexpected(Error{Errc::io_error, fmt::format("{} is damaged: {}", file->path_.string(), e.message())});
  };
  auto text = read_text_file(file->path_);
  if (!text) return refuse(text.error());
  auto records = parse_records(*text);
  secure_wipe(text->data(), text->size());
  if (!records) return refuse(records.error());
  if (records->size() != 1) return refuse({Errc::invalid_argument, "expected one record"});
  T value;
  if (auto r = decode(records->front(), value); !r) return refuse(r.error());
  if (auto unused = records->front().unused(); !unused.empty())
    return refuse({Errc::invalid_argument, "unknown entry " + unused.front()});
  file->value_ = std::move(value);
  return file;
}

template <typename T>
Result<void> MemoryFile<T>::store(const T& value) {
  std::string text = encode(value);  // holds the SM's CA key (hex): wiped once written
  const auto tmp = std::filesystem::path(path_.string() + ".new");
  auto written = write_secret_file(tmp, ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  secure_wipe(text.data(), text.size());
  DCAS_TRY(written);
  std::error_code ec;
  std::filesystem::rename(tmp, path_, ec);
  if (ec) return fail(Errc::io_error, fmt::format("cannot replace {}: {}", path_.string(), ec.message()));
  // The rename itself is durable only once the directory is synced.
  const int dir = ::open(path_.parent_path().empty() ? "." : path_.parent_path().c_str(), O_RDONLY | O_DIRECTORY);
  const bool synced = dir >= 0 && ::fsync(dir) == 0;
  if (dir >= 0) ::close(dir);
  if (!synced) return fail(Errc::io_error, fmt::format("cannot sync the directory of {}", path_.string()));
  value_ = value;
  return {};
}

template class MemoryFile<protocol::SmMemory>;
template class MemoryFile<protocol::TpMemory>;

}  // namespace dcas::host

#include "provisioning/device_files.h"

#include <fmt/format.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include "common/files.h"
#include "common/records.h"
#include "pki/authority.h"

namespace dcas::provisioning {

using namespace pki;  // certificates, issuing and verification

namespace fs = std::filesystem;

namespace {

Result<void> make_private_dir(const fs::path& dir, bool must_be_new) {
  std::error_code ec;
  const bool created = fs::create_directories(dir, ec);
  if (ec) return fail(Errc::io_error, fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  if (must_be_new && !created) return fail(Errc::already_exists, fmt::format("{} already exists", dir.string()));
  if (::chmod(dir.c_str(), 0700) != 0) return fail(Errc::io_error, fmt::format("cannot restrict {}", dir.string()));
  return {};
}

}  // namespace

Result<TaIdentity> init_ta_directory(const fs::path& dir, std::string_view name, int days, bool force) {
  if (!force && fs::exists(dir / "ta.key"))
    return fail(Errc::io_error, fmt::format("{} already holds a TA (use --force to replace it)", dir.string()));
  DCAS_TRY(make_private_dir(dir, false));
  DCAS_TRY_ASSIGN(key, crypto::RsaPrivateKey::generate(2048));
  DCAS_TRY_ASSIGN(cert, make_root(key, name, Validity::starting_now(days), crypto::system_random()));
  DCAS_TRY(key.save_pem_file(dir / "ta.key"));
  DCAS_TRY(cert.save_pem_file(dir / "ta.crt"));
  return TaIdentity{key, cert};
}

Result<TaIdentity> load_ta_directory(const fs::path& dir) { return load_ta_identity(dir / "ta.key", dir / "ta.crt"); }

Result<TaIdentity> load_ta_identity(const fs::path& key_file, const fs::path& certificate_file) {
  DCAS_TRY_ASSIGN(key, crypto::RsaPrivateKey::load_pem_file(key_file));
  DCAS_TRY_ASSIGN(cert, Certificate::load_file(certificate_file));
  if (X509_check_private_key(cert.x509(), key.evp()) != 1)
    return fail(Errc::key_invalid, fmt::format("{} does not match {}", key_file.string(), certificate_file.string()));
  return TaIdentity{key, cert};
}

Result<protocol::SmSecrets> fresh_ki(crypto::RandomSource& rng) {
  DCAS_TRY_ASSIGN(ki1, rng.bytes(protocol::ki_size));
  DCAS_TRY_ASSIGN(ki2, rng.bytes(protocol::ki_size));
  DCAS_TRY_ASSIGN(ki3, rng.bytes(protocol::ki_size));
  return protocol::SmSecrets{std::move(ki1), std::move(ki2), std::move(ki3)};
}

Result<IssuedDevice> issue_device_files(const TaIdentity& ta, Role role, std::optional<ByteView> id,
                                        const fs::path& out_root, int days, crypto::RandomSource& rng,
                                        const RecordDevice& record) {
  std::array<std::uint8_t, device_id_size> device_id{};
  if (id) {
    if (id->size() != device_id_size) return fail(Errc::bad_length, "device ID must be 8 bytes");
    std::copy(id->begin(), id->end(), device_id.begin());
  } else {
    do {
      DCAS_TRY(rng.fill(device_id));
    } while (is_load_test_id(device_id));  // the load-test range is never issued here
  }
  const fs::path dir = out_root / fmt::format("{}-{}", role_name(role), to_hex(device_id));
  std::error_code ec;
  if (fs::exists(dir, ec)) return fail(Errc::already_exists, fmt::format("{} already exists", dir.string()));
  DCAS_TRY_ASSIGN(key, crypto::RsaPrivateKey::generate(2048));
  DCAS_TRY_ASSIGN(
      cert, issue_device(ta.key, ta.certificate, role, device_id, key.public_key(), Validity::starting_now(days), rng));
  std::optional<protocol::SmSecrets> ki;
  if (role == Role::sm) {
    DCAS_TRY_ASSIGN(fresh, fresh_ki(rng));
    ki = std::move(fresh);
  }
  DCAS_TRY(record(cert, ki));
  DCAS_TRY(make_private_dir(dir, true));
  DCAS_TRY(key.save_pem_file(dir / "key.pem"));
  DCAS_TRY(cert.save_pem_file(dir / "cert.pem"));
  DCAS_TRY(ta.certificate.save_pem_file(dir / "ta.crt"));
  if (ki) {
    SecureBytes text;
    const SecureBytes* const kis[] = {&ki->ki1, &ki->ki2, &ki->ki3};
    for (int i = 0; i < 3; ++i) {
      const std::string line = fmt::format("ki{} = ", i + 1);
      text.insert(text.end(), line.begin(), line.end());
      std::string hex = to_hex(view(*kis[i]));
      text.insert(text.end(), hex.begin(), hex.end());
      secure_wipe(hex.data(), hex.size());
      text.push_back('\n');
    }
    DCAS_TRY(write_secret_file(dir / "ki.txt", view(text)));
  }
  return IssuedDevice{role, device_id, dir, cert};
}

Result<IssuedDevice> renew_device_files(const TaIdentity& ta, Role role, ByteView id, ByteView current,
                                        const fs::path& directory, int days, bool new_key, crypto::RandomSource& rng,
                                        const std::function<Result<void>(const Certificate&)>& record) {
  if (id.size() != device_id_size) return fail(Errc::bad_length, "device ID must be 8 bytes");
  DCAS_TRY_ASSIGN(old_cert, Certificate::from_der(current));
  std::optional<crypto::RsaPrivateKey> fresh;
  if (new_key) {
    DCAS_TRY_ASSIGN(generated, crypto::RsaPrivateKey::generate(2048));
    fresh.emplace(std::move(generated));
  } else if (fs::exists(directory / "key.pem")) {
    // The key the device holds must be the one certified again.
    DCAS_TRY_ASSIGN(held, crypto::RsaPrivateKey::load_pem_file(directory / "key.pem"));
    if (held.public_key().to_der() != old_cert.public_key_der())
      return fail(Errc::invalid_argument,
                  fmt::format("{} is not the key of the certificate on record", (directory / "key.pem").string()));
  }
  DCAS_TRY_ASSIGN(old_key, old_cert.public_key());
  const crypto::RsaPublicKey subject = fresh ? fresh->public_key() : old_key;
  DCAS_TRY_ASSIGN(cert, issue_device(ta.key, ta.certificate, role, id, subject, Validity::starting_now(days), rng));
  DCAS_TRY(record(cert));
  DCAS_TRY(make_private_dir(directory, false));
  if (fresh) DCAS_TRY(fresh->save_pem_file(directory / "key.pem"));
  DCAS_TRY(cert.save_pem_file(directory / "cert.pem"));
  DCAS_TRY(ta.certificate.save_pem_file(directory / "ta.crt"));
  std::array<std::uint8_t, device_id_size> device_id{};
  std::copy(id.begin(), id.end(), device_id.begin());
  return IssuedDevice{role, device_id, directory, cert};
}

Result<protocol::SmSecrets> load_ki_file(const fs::path& path) {
  DCAS_TRY_ASSIGN(text, read_text_file(path));
  auto records = parse_records(text);
  secure_wipe(text.data(), text.size());
  if (!records) return std::unexpected(records.error());
  if (records->size() != 1)
    return fail(Errc::invalid_argument, fmt::format("{}: expected one ki block", path.string()));
  protocol::SmSecrets out;
  SecureBytes* slots[] = {&out.ki1, &out.ki2, &out.ki3};
  for (int i = 0; i < 3; ++i) {
    DCAS_TRY_ASSIGN(ki, (*records)[0].hex(fmt::format("ki{}", i + 1)));
    if (ki.size() != protocol::ki_size)
      return fail(Errc::bad_length, fmt::format("{}: ki{} must be 16 bytes", path.string(), i + 1));
    slots[i]->assign(ki.begin(), ki.end());
    secure_wipe(ki.data(), ki.size());
  }
  return out;
}

Result<protocol::Identity> load_device_identity(const std::filesystem::path& directory) {
  DCAS_TRY_ASSIGN(key, crypto::RsaPrivateKey::load_pem_file(directory / "key.pem"));
  DCAS_TRY_ASSIGN(cert, Certificate::load_file(directory / "cert.pem"));
  DCAS_TRY_ASSIGN(root, Certificate::load_file(directory / "ta.crt"));
  return protocol::Identity{std::move(key), std::move(cert), std::move(root)};
}

}  // namespace dcas::provisioning

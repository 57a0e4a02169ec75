// Provisioning, above the roles: the TA's working directory and each device's directory as files.
//
//   DIR/ta.key   TA root private key (PKCS#8 PEM, mode 0600)
//   DIR/ta.crt   TA root certificate (PEM)
//   OUT/<role>-<id>/key.pem   device private key (0600)
//   OUT/<role>-<id>/cert.pem  device certificate
//   OUT/<role>-<id>/ta.crt    the TA root, which every device stores
//   OUT/sm-<id>/ki.txt        the SM's Ki1..Ki3 (0600), "ki1 = <32 hex digits>" per line
// Each device directory is what that device's manufacturer receives (mode 0700).
#pragma once

#include <filesystem>
#include <functional>
#include <optional>

#include "common/ids.h"
#include "crypto/random.h"
#include "crypto/rsa.h"
#include "pki/certificate.h"
#include "protocol/derivation.h"
#include "protocol/role.h"

namespace dcas::provisioning {

using pki::Certificate;

struct TaIdentity {
  crypto::RsaPrivateKey key;
  Certificate certificate;
};

// Creates DIR (mode 0700) with a fresh RSA-2048 root key and self-signed certificate.
// Errors: io_error (DIR already holds a TA and !force, or cannot be written), crypto_failure.
Result<TaIdentity> init_ta_directory(const std::filesystem::path& dir, std::string_view name, int days, bool force);
// Errors: io_error, pem_invalid, key_invalid, cert_invalid, crypto_failure (key and certificate
// do not belong together).
Result<TaIdentity> load_ta_directory(const std::filesystem::path& dir);
// The same from two files (the root key may live apart from the TA directory).
Result<TaIdentity> load_ta_identity(const std::filesystem::path& key_file,
                                    const std::filesystem::path& certificate_file);

struct IssuedDevice {
  Role role;
  std::array<std::uint8_t, device_id_size> id;
  std::filesystem::path directory;
  Certificate certificate;
};

// What the TA records of a device it issues (its store), before any file of the device exists: a
// refusal leaves nothing behind. `ki`: an SM's three Ki.
using RecordDevice = std::function<Result<void>(const Certificate& cert, const std::optional<protocol::SmSecrets>& ki)>;

// An SM's three Ki, fresh from `rng`. Errors: random_failure.
Result<protocol::SmSecrets> fresh_ki(crypto::RandomSource& rng);

// Issues one device: key pair, certificate, and for an SM its three Ki; `record` keeps them on
// record; then they are written under out_root. `id` defaults to 8 random bytes.
// Errors: already_exists (the device directory exists), `record`'s, io_error, crypto_failure.
Result<IssuedDevice> issue_device_files(const TaIdentity& ta, Role role, std::optional<ByteView> id,
                                        const std::filesystem::path& out_root, int days, crypto::RandomSource& rng,
                                        const RecordDevice& record);

// Renews a device (docs/spec.md §18.6): a new certificate for the same role and ID, valid `days`
// from now, for the key of `current` (its certificate on record, DER) or, with `new_key`, a new
// RSA-2048 key. `record` keeps it on record (the TA's store) before any file is written; then
// cert.pem (and key.pem for a new key) are replaced in `directory` (created, 0700, if missing).
// Errors: cert_invalid, invalid_argument (directory's key.pem is not the certified key), `record`'s,
// io_error, crypto_failure.
Result<IssuedDevice> renew_device_files(const TaIdentity& ta, Role role, ByteView id, ByteView current,
                                        const std::filesystem::path& directory, int days, bool new_key,
                                        crypto::RandomSource& rng,
                                        const std::function<Result<void>(const Certificate&)>& record);

// A device's identity from its directory: key.pem, cert.pem and ta.crt.
// Errors: io_error, pem_invalid, key_invalid, cert_invalid.
Result<protocol::Identity> load_device_identity(const std::filesystem::path& directory);

// Reads OUT/sm-<id>/ki.txt. Errors: io_error, invalid_argument, bad_hex, bad_length.
Result<protocol::SmSecrets> load_ki_file(const std::filesystem::path& path);

}  // namespace dcas::provisioning

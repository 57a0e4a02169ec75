#include "kat/selftest.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <map>

#include "common/ids.h"
#include "crypto/aes.h"
#include "crypto/fips186_prf.h"
#include "crypto/hash.h"
#include "crypto/kex.h"
#include "crypto/rsa.h"
#include "kat/embedded.h"
#include "protocol/derivation.h"
#include "ts/stream.h"

namespace dcas::kat {

namespace {

using Runner = std::function<Result<void>(const Record&)>;

Result<void> expect_equal(ByteView got, ByteView want, std::string_view what) {
  if (got.size() == want.size() && std::equal(got.begin(), got.end(), want.begin())) return {};
  return fail(Errc::selftest_failed, fmt::format("{}: got {}, want {}", what, to_hex(got), to_hex(want)));
}

Result<void> run_sha(const Record& r) {
  DCAS_TRY_ASSIGN(algorithm, r.word("Algorithm"));
  DCAS_TRY_ASSIGN(msg, r.hex("Msg"));
  DCAS_TRY_ASSIGN(digest, r.hex("Digest"));
  if (algorithm == "sha1") return expect_equal(crypto::sha1(msg), digest, "SHA-1");
  if (algorithm == "sha256") return expect_equal(crypto::sha256(msg), digest, "SHA-256");
  return fail(Errc::invalid_argument, "unknown Algorithm " + algorithm);
}

Result<void> run_hmac_sha256(const Record& r) {
  DCAS_TRY_ASSIGN(key, r.hex("Key"));
  DCAS_TRY_ASSIGN(data, r.hex("Data"));
  DCAS_TRY_ASSIGN(mac, r.hex("Mac"));
  return expect_equal(crypto::hmac_sha256(key, {data}), mac, "HMAC-SHA256");
}

Result<void> run_x25519(const Record& r) {
  DCAS_TRY_ASSIGN(scalar, r.hex("Private"));
  DCAS_TRY_ASSIGN(pub, r.hex("Public"));
  DCAS_TRY_ASSIGN(peer, r.hex("PeerPublic"));
  DCAS_TRY_ASSIGN(shared, r.hex("Shared"));
  DCAS_TRY_ASSIGN(key, crypto::X25519Key::from_private(scalar));
  if (auto e = expect_equal(key.public_key(), pub, "X25519 public key"); !e) return e;
  DCAS_TRY_ASSIGN(secret, key.shared_secret(peer));
  return expect_equal(view(secret), shared, "X25519 shared secret");
}

Result<void> run_hkdf(const Record& r) {
  DCAS_TRY_ASSIGN(ikm, r.hex("IKM"));
  DCAS_TRY_ASSIGN(salt, r.hex("Salt"));
  DCAS_TRY_ASSIGN(info, r.hex("Info"));
  DCAS_TRY_ASSIGN(prk_want, r.hex("PRK"));
  DCAS_TRY_ASSIGN(okm_want, r.hex("OKM"));
  DCAS_TRY_ASSIGN(prk, crypto::hkdf_extract(salt, ikm));
  if (auto e = expect_equal(view(prk), prk_want, "HKDF-Extract"); !e) return e;
  DCAS_TRY_ASSIGN(okm, crypto::hkdf_expand(view(prk), info, okm_want.size()));
  return expect_equal(view(okm), okm_want, "HKDF-Expand");
}

// The hardened1 key schedule from both ends: the SM's scalar with E_TP, the TP's with E_SM.
Result<void> run_hardened1(const Record& r) {
  DCAS_TRY_ASSIGN(kpk, r.hex("KPK"));
  DCAS_TRY_ASSIGN(req, r.hex("TPCertReq"));
  DCAS_TRY_ASSIGN(rsp, r.hex("TPCertRsp"));
  DCAS_TRY_ASSIGN(statement, r.hex("Statement"));
  DCAS_TRY_ASSIGN(scalar_sm, r.hex("ScalarSM"));
  DCAS_TRY_ASSIGN(scalar_tp, r.hex("ScalarTP"));
  DCAS_TRY_ASSIGN(sm, crypto::X25519Key::from_private(scalar_sm));
  DCAS_TRY_ASSIGN(tp, crypto::X25519Key::from_private(scalar_tp));
  for (auto [name, got] : {std::pair{"ESM", sm.public_key()}, std::pair{"ETP", tp.public_key()}}) {
    DCAS_TRY_ASSIGN(want, r.hex(name));
    if (auto e = expect_equal(got, want, name); !e) return e;
  }
  DCAS_TRY_ASSIGN(ss_sm, sm.shared_secret(tp.public_key()));
  DCAS_TRY_ASSIGN(ss_tp, tp.shared_secret(sm.public_key()));
  DCAS_TRY_ASSIGN(shared, r.hex("Shared"));
  if (auto e = expect_equal(view(ss_sm), shared, "X25519 (SM)"); !e) return e;
  if (auto e = expect_equal(view(ss_tp), shared, "X25519 (TP)"); !e) return e;
  const auto th = protocol::transcript_hash(req, rsp, statement, sm.public_key());
  DCAS_TRY_ASSIGN(prk, crypto::hkdf_extract(th, concat({kpk, view(ss_tp)})));
  DCAS_TRY_ASSIGN(keys, protocol::derive_handshake_keys(kpk, view(ss_tp), th));
  const auto confirm_sm = protocol::key_confirmation(view(keys.confirm_key), "SM", th);
  const auto confirm_tp = protocol::key_confirmation(view(keys.confirm_key), "TP", th);
  const std::pair<const char*, ByteView> outputs[] = {{"TH", th},
                                                      {"PRK", view(prk)},
                                                      {"CWEK", view(keys.cwek)},
                                                      {"HMACKey", view(keys.hmac_key)},
                                                      {"KConfirm", view(keys.confirm_key)},
                                                      {"ConfirmSM", confirm_sm},
                                                      {"ConfirmTP", confirm_tp}};
  for (const auto& [name, got] : outputs) {
    DCAS_TRY_ASSIGN(want, r.hex(name));
    if (auto e = expect_equal(got, want, name); !e) return e;
  }
  return {};
}

Result<void> run_hmac_sha1(const Record& r) {
  DCAS_TRY_ASSIGN(key, r.hex("Key"));
  DCAS_TRY_ASSIGN(data, r.hex("Data"));
  DCAS_TRY_ASSIGN(mac, r.hex("Mac"));
  if (auto e = expect_equal(crypto::hmac_sha1(key, data), mac, "HMAC-SHA1"); !e) return e;
  DCAS_TRY_ASSIGN(keyed, crypto::HmacSha1::create(key));
  DCAS_TRY_ASSIGN(again, keyed.mac({data}));
  return expect_equal(again, mac, "HMAC-SHA1 (keyed context)");
}

Result<void> run_aes128(const Record& r) {
  DCAS_TRY_ASSIGN(mode_name, r.word("Mode"));
  DCAS_TRY_ASSIGN(key, r.hex("Key"));
  DCAS_TRY_ASSIGN(iv, r.hex("IV"));
  DCAS_TRY_ASSIGN(pt, r.hex("Plaintext"));
  DCAS_TRY_ASSIGN(ct, r.hex("Ciphertext"));
  const std::map<std::string, crypto::AesMode> modes{
      {"ecb", crypto::AesMode::ecb}, {"cbc", crypto::AesMode::cbc}, {"ctr", crypto::AesMode::ctr}};
  if (!modes.contains(mode_name)) return fail(Errc::invalid_argument, "unknown Mode " + mode_name);
  const auto mode = modes.at(mode_name);
  DCAS_TRY_ASSIGN(enc, crypto::aes128_run(mode, crypto::AesDirection::encrypt, key, iv, pt));
  if (auto e = expect_equal(enc, ct, "AES-128-" + mode_name + " encrypt"); !e) return e;
  DCAS_TRY_ASSIGN(dec, crypto::aes128_run(mode, crypto::AesDirection::decrypt, key, iv, ct));
  return expect_equal(dec, pt, "AES-128-" + mode_name + " decrypt");
}

Result<void> run_prf(const Record& r) {
  DCAS_TRY_ASSIGN(seed, r.hex("Seed"));
  DCAS_TRY_ASSIGN(want, r.hex("Output"));
  DCAS_TRY_ASSIGN(got, crypto::fips186_2_prf(seed, want.size()));
  return expect_equal(view(got), want, "FIPS 186-2 PRF");
}

Result<bool> expect_valid(const Record& r) {
  DCAS_TRY_ASSIGN(result, r.word("Result"));
  if (result != "valid" && result != "invalid") return fail(Errc::invalid_argument, "Result must be valid|invalid");
  return result == "valid";
}

Result<void> run_rsa_oaep(const Record& r) {
  DCAS_TRY_ASSIGN(der, r.hex("PrivateKey"));
  DCAS_TRY_ASSIGN(ct, r.hex("Ciphertext"));
  DCAS_TRY_ASSIGN(pt, r.hex("Plaintext"));
  DCAS_TRY_ASSIGN(valid, expect_valid(r));
  DCAS_TRY_ASSIGN(key, crypto::RsaPrivateKey::from_der(der));
  auto got = crypto::oaep_decrypt(key, ct);
  if (!valid) {
    if (got) return fail(Errc::selftest_failed, "RSAES-OAEP accepted an invalid ciphertext");
    return {};
  }
  if (!got) return fail(Errc::selftest_failed, "RSAES-OAEP rejected a valid ciphertext");
  if (auto e = expect_equal(view(*got), pt, "RSAES-OAEP decrypt"); !e) return e;
  // Our encoder, seeded, must produce ciphertexts OpenSSL decrypts back to the same plaintext.
  crypto::SeededRandom rng(ct);
  DCAS_TRY_ASSIGN(again, crypto::oaep_encrypt(key.public_key(), pt, rng));
  DCAS_TRY_ASSIGN(round, crypto::oaep_decrypt(key, again));
  return expect_equal(view(round), pt, "RSAES-OAEP round trip");
}

Result<void> run_rsa_pss(const Record& r) {
  DCAS_TRY_ASSIGN(der, r.hex("PublicKey"));
  DCAS_TRY_ASSIGN(msg, r.hex("Msg"));
  DCAS_TRY_ASSIGN(sig, r.hex("Signature"));
  DCAS_TRY_ASSIGN(valid, expect_valid(r));
  DCAS_TRY_ASSIGN(key, crypto::RsaPublicKey::from_der(der));
  const bool verified = crypto::pss_verify(key, msg, sig).has_value();
  if (verified != valid)
    return fail(Errc::selftest_failed,
                valid ? "RSASSA-PSS rejected a valid signature" : "RSASSA-PSS accepted an invalid signature");
  return {};
}

template <Role R>
Result<DeviceId<R>> id_attr(const Record& r, const std::string& name) {
  DCAS_TRY_ASSIGN(hex, r.word(name));
  return DeviceId<R>::from_hex(hex);
}

// The worked example of docs/spec.md: KPK, CWEK and HMAC_KEY from fixed inputs.
Result<void> run_derivations(const Record& r) {
  DCAS_TRY_ASSIGN(ki1, r.hex("Ki1"));
  DCAS_TRY_ASSIGN(ki2, r.hex("Ki2"));
  DCAS_TRY_ASSIGN(ki3, r.hex("Ki3"));
  DCAS_TRY_ASSIGN(sm, id_attr<Role::sm>(r, "SmId"));
  DCAS_TRY_ASSIGN(tp, id_attr<Role::tp>(r, "TpId"));
  DCAS_TRY_ASSIGN(rand, r.hex("Rand"));
  DCAS_TRY_ASSIGN(rand_hmac, r.hex("RandHmac"));
  DCAS_TRY_ASSIGN(want_kpk, r.hex("Kpk"));
  DCAS_TRY_ASSIGN(want_cwek, r.hex("Cwek"));
  DCAS_TRY_ASSIGN(want_hmac_key, r.hex("HmacKey"));
  protocol::SmSecrets ki{SecureBytes(ki1.begin(), ki1.end()), SecureBytes(ki2.begin(), ki2.end()),
                         SecureBytes(ki3.begin(), ki3.end())};
  DCAS_TRY_ASSIGN(kpk, protocol::derive_kpk(ki, sm, tp, rand));
  if (auto e = expect_equal(view(kpk), want_kpk, "KPK"); !e) return e;
  DCAS_TRY_ASSIGN(cwek, protocol::derive_cwek(view(kpk), sm, tp));
  if (auto e = expect_equal(view(cwek), want_cwek, "CWEK"); !e) return e;
  DCAS_TRY_ASSIGN(hmac_key, protocol::derive_hmac_key(rand_hmac, sm, tp));
  return expect_equal(view(hmac_key), want_hmac_key, "HMAC_KEY");
}

// A TS scrambling vector: the payload cipher both ways; with whole packets also the stream
// scrambler and descrambler (headers, adaptation field and scrambling bits).
Result<void> run_ts_cipher(ts::Algorithm algorithm, const Record& r) {
  DCAS_TRY_ASSIGN(key, r.hex("Key"));
  DCAS_TRY_ASSIGN(clear, r.hex("Clear"));
  DCAS_TRY_ASSIGN(scrambled, r.hex("Scrambled"));
  auto cipher = ts::PayloadCipher::create(algorithm);
  DCAS_TRY(cipher->set_key(ts::Scrambling::even, key));
  Bytes work = clear;
  std::span<std::uint8_t> one[] = {work};
  cipher->encrypt(ts::Scrambling::even, one);
  if (auto e = expect_equal(work, scrambled, std::string(ts::algorithm_name(algorithm)) + " scramble"); !e) return e;
  work = scrambled;
  cipher->decrypt(ts::Scrambling::even, one);
  if (auto e = expect_equal(work, clear, std::string(ts::algorithm_name(algorithm)) + " descramble"); !e) return e;
  if (!r.has("Packet")) return {};
  DCAS_TRY_ASSIGN(packet, r.hex("Packet"));
  DCAS_TRY_ASSIGN(scrambled_packet, r.hex("ScrambledPacket"));
  DCAS_TRY_ASSIGN(info, ts::parse_packet(scrambled_packet));
  ts::StreamStats stats;
  std::vector<ts::StreamError> errors;
  ts::Descrambler descrambler(algorithm);
  DCAS_TRY(descrambler.set_key(info.scrambling, key));
  work = scrambled_packet;
  descrambler.process(work, {}, stats, errors);
  if (auto e = expect_equal(work, packet, "packet descramble"); !e) return e;
  ts::Scrambler scrambler(algorithm, {info.pid});
  DCAS_TRY(scrambler.set_key(info.scrambling, key));
  scrambler.set_parity(info.scrambling);
  work = packet;
  scrambler.process(work, {}, stats, errors);
  return expect_equal(work, scrambled_packet, "packet scramble");
}

const std::map<std::string, Runner, std::less<>>& runners() {
  static const std::map<std::string, Runner, std::less<>> table{
      {"sha.txt", run_sha},
      {"hmac_sha1.txt", run_hmac_sha1},
      {"hmac_sha256.txt", run_hmac_sha256},
      {"x25519.txt", run_x25519},
      {"hkdf_sha256.txt", run_hkdf},
      {"aes128.txt", run_aes128},
      {"fips186_2_prf.txt", run_prf},
      {"rsa_oaep_sha256.txt", run_rsa_oaep},
      {"rsa_pss_sha256.txt", run_rsa_pss},
      {"dcas_derivations.txt", run_derivations},
      {"dcas_hardened1.txt", run_hardened1},
      {"dvb_csa2.txt", [](const Record& r) { return run_ts_cipher(ts::Algorithm::csa2, r); }},
      {"dvb_cissa.txt", [](const Record& r) { return run_ts_cipher(ts::Algorithm::cissa, r); }},
      {"atis_idsa.txt", [](const Record& r) { return run_ts_cipher(ts::Algorithm::idsa, r); }},
  };
  return table;
}

}  // namespace

FileOutcome run_vector_file(std::string_view name, std::string_view text) {
  FileOutcome outcome{std::string(name), 0, {}};
  const auto it = runners().find(name);
  if (it == runners().end()) {
    outcome.failures.push_back("no runner for this vector file");
    return outcome;
  }
  auto records = parse_records(text);
  if (!records) {
    outcome.failures.push_back(records.error().message());
    return outcome;
  }
  for (const Record& record : *records) {
    auto result = it->second(record);
    if (!result) {
      outcome.failures.push_back(fmt::format("line {}: {}", record.line, result.error().message()));
      continue;
    }
    if (auto unused = record.unused(); !unused.empty()) {
      outcome.failures.push_back(fmt::format("line {}: attribute {} never checked", record.line, unused.front()));
      continue;
    }
    ++outcome.passed;
  }
  return outcome;
}

std::vector<FileOutcome> run_all() {
  std::vector<FileOutcome> outcomes;
  for (const auto& file : embedded_files()) outcomes.push_back(run_vector_file(file.name, file.content));
  for (const auto& [name, runner] : runners()) {
    const bool present = std::any_of(embedded_files().begin(), embedded_files().end(),
                                     [&](const EmbeddedFile& f) { return f.name == name; });
    if (!present) outcomes.push_back(FileOutcome{name, 0, {"vector file missing from the build"}});
  }
  return outcomes;
}

}  // namespace dcas::kat

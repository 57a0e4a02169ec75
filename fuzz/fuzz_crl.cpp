// libFuzzer target: a CRL as a party receives it in an announcement (pki::Crl::verified, then the
// TP's update_crl with its secure memory). Two readings of each input: the bytes as a CRL, and a
// real CRL of the fuzzer's TA edited by them (truncated to the length in the first two bytes, the
// rest XORed over it), so that inputs reach past the DER parser into the issuer, signature and
// number checks. Nothing may crash; an accepted CRL must have verified under the root.
#include <cstdint>
#include <cstdlib>

#include "pki/authority.h"
#include "pki/crl.h"
#include "protocol/transport_processor.h"

namespace {

using namespace dcas;

const pki::TimePoint now = std::chrono::sys_days{std::chrono::year{2026} / 6 / 1};

struct Fixture {
  crypto::SeededRandom rng{view("fuzz crl")};
  crypto::RsaPrivateKey ta_key =
      crypto::RsaPrivateKey::load_pem_file(std::string(DCAS_SOURCE_DIR) + "/tests/data/keys/ta.pem").value();
  pki::Validity validity{now - std::chrono::days(365), now + std::chrono::days(365)};
  pki::Certificate root = pki::make_root(ta_key, "Fuzz TA", validity, rng).value();
  pki::Certificate tp_cert = pki::issue_device(ta_key, root, Role::tp, from_hex("5400000000000001").value(),
                                               ta_key.public_key(), validity, rng)
                                 .value();
  Bytes valid =
      pki::make_crl(ta_key, root, 7, {{Bytes(16, 0x41), now}, {Bytes(16, 0x42), now}, {tp_cert.serial(), now}}, now,
                    now + std::chrono::days(30))
          .value()
          .der();
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

void check(ByteView der) {
  auto& f = fixture();
  auto crl = pki::Crl::verified(der, f.root);
  if (crl && (crl->number() == 0 || crl->der().size() != der.size())) std::abort();
  protocol::MemoryNonVolatile<protocol::TpMemory> memory;
  auto tp = protocol::TransportProcessor::create({f.ta_key, f.tp_cert, f.root}, memory, f.rng, now).value();
  const auto out = tp.update_crl(der);
  if (out.ok() != crl.has_value()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check(ByteView(data, size));
  if (size >= 2) {
    Bytes edited = fixture().valid;
    edited.resize(std::min<std::size_t>(edited.size(), (std::size_t{data[0]} << 8 | data[1]) + 1));
    for (std::size_t i = 2; i < size && i - 2 < edited.size(); ++i) edited[i - 2] ^= data[i];
    check(edited);
  }
  return 0;
}

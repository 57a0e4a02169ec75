// Certificate expiry (issue 13, renewal): a certificate past its notAfter is refused with
// cert_expired by every party that checks it, under both profiles: the AP (Cert(SM)), the SM
// (Cert(AP), Cert(TP)), the TP (Cert(SM)), the TA (an AP at admission; Cert(SM) and Cert(TP) in a
// hardened1 request), and each role's own certificate when it starts. The link's TLS is in
// tls_test.cpp.
#include "protocol_support.h"

namespace dcas {
namespace {

using namespace test;
using wire::MessageType;

// A certificate valid from a day before t0 until one hour after it.
const pki::Validity short_lived{t0 - 24h, t0 + 1h};
const protocol::TimePoint later = t0 + 2h;  // when it has expired

class Expiry : public ::testing::TestWithParam<wire::Profile> {
 protected:
  Deployment d{GetParam()};
  crypto::SeededRandom sm_rng{view("expiry sm")}, tp_rng{view("expiry tp")};

  // A host whose SM certificate (or TP certificate) expires an hour after t0, paired at t0.
  std::unique_ptr<protocol::InProcessHost> short_lived_host(bool sm_expires) {
    d.store
        .add_sm(SmId::from_hex("5300000000000001").value(),
                {SecureBytes(16, 1), SecureBytes(16, 2), SecureBytes(16, 3)})
        .value();
    d.store.add_tp(TpId::from_hex("5400000000000001").value()).value();
    const auto validity = [&](bool short_one) { return short_one ? short_lived : fixed_validity; };
    protocol::Identity sm{key("sm1"), d.certificate(Role::sm, "5300000000000001", "sm1", validity(sm_expires)), d.root};
    protocol::Identity tp{key("tp1"), d.certificate(Role::tp, "5400000000000001", "tp1", validity(!sm_expires)),
                          d.root};
    auto h = d.net.add_host(sm, tp, sm_rng, tp_rng, t0).value();
    d.announce(*h);
    EXPECT_TRUE(d.established(*h));
    return h;
  }
  Bytes recorded(MessageType type) const {
    for (const auto& hop : d.net.transcript)
      if (type_of(hop) == type) return hop.bytes;
    ADD_FAILURE() << "no " << wire::type_name(type) << " recorded";
    return {};
  }
  MessageType sm_request() const {
    return GetParam() == wire::Profile::hardened1 ? MessageType::key_request_sm_h1 : MessageType::key_request_sm;
  }
};

TEST_P(Expiry, TheApRefusesAnExpiredSmCertificate) {
  auto h = short_lived_host(true);
  const auto out = d.ap.receive_from_sm(99, recorded(sm_request()), later);
  ASSERT_TRUE(out.error.has_value());
  EXPECT_EQ(out.error->code, Errc::cert_expired) << out.error->message();
}

TEST_P(Expiry, TheSmRefusesAnExpiredApCertificate) {
  auto h = short_lived_host(true);
  crypto::SeededRandom rng{view("expiring ap")};
  auto ap =
      protocol::AuthProxy::create({key("ap2"), d.certificate(Role::ap, "4100000000000002", "ap2", short_lived), d.root},
                                  rng, t0, {}, GetParam())
          .value();
  const auto out = h->sm->receive(Role::ap, ap.security_announce(d.network_id, 1).value(), later);
  ASSERT_TRUE(out.error.has_value());
  EXPECT_EQ(out.error->code, Errc::cert_expired) << out.error->message();
  EXPECT_EQ(h->sm->state(), protocol::SecureMicro::State::established);  // a refused announcement changes nothing
}

TEST_P(Expiry, TheSmRefusesAnExpiredTpCertificate) {
  auto h = short_lived_host(false);
  d.net.clear();
  d.power_up(*h, later);
  auto f = d.first_failure();
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->error.code, Errc::cert_expired) << f->error.message();
}

TEST_P(Expiry, TheTpRefusesAnExpiredSmCertificate) {
  auto h = short_lived_host(true);
  const auto out = h->tp->receive(
      recorded(GetParam() == wire::Profile::hardened1 ? MessageType::tp_cert_req_h1 : MessageType::tp_cert_req), later);
  ASSERT_TRUE(out.error.has_value());
  EXPECT_EQ(out.error->code, Errc::cert_expired) << out.error->message();
}

TEST_P(Expiry, TheTaAdmitsNoExpiredAp) {
  EXPECT_EQ(d.ta.register_ap(d.certificate(Role::ap, "4100000000000002", "ap2", short_lived), later).error().code,
            Errc::cert_expired);
}

// hardened1: the TA checks Cert(SM) itself (koo2010's TA never sees it: the AP's check is all).
TEST_P(Expiry, TheTaRefusesAnExpiredSmCertificateInAHardenedRequest) {
  if (GetParam() != wire::Profile::hardened1) GTEST_SKIP() << "the koo2010 TA sees no Cert(SM)";
  auto h = short_lived_host(true);
  // An AP that relays without checking (a link insider): its own signature, a fresh time.
  const auto request = protocol::sign_and_encode(
      {wire::Profile::hardened1,
       wire::KeyRequestFromApH1{
           from_hex("4100000000000001").value(), protocol::to_unix_ms(later), recorded(sm_request()), {}},
       {}},
      key("ap1"), d.ap_rng);
  ASSERT_TRUE(request);
  const auto out = d.ta.receive(1, *request, later);
  ASSERT_TRUE(out.error.has_value());
  EXPECT_EQ(out.error->code, Errc::cert_expired) << out.error->message();
}

TEST_P(Expiry, NoRoleStartsWithAnExpiredCertificateOfItsOwn) {
  protocol::MemoryNonVolatile<protocol::SmMemory> sm_memory;
  protocol::MemoryNonVolatile<protocol::TpMemory> tp_memory;
  const protocol::Identity sm{key("sm1"), d.certificate(Role::sm, "5300000000000001", "sm1", short_lived), d.root};
  const protocol::Identity tp{key("tp1"), d.certificate(Role::tp, "5400000000000001", "tp1", short_lived), d.root};
  const protocol::Identity ap{key("ap2"), d.certificate(Role::ap, "4100000000000002", "ap2", short_lived), d.root};
  EXPECT_EQ(protocol::SecureMicro::create(sm, sm_memory, sm_rng, later, GetParam()).error().code, Errc::cert_expired);
  EXPECT_EQ(protocol::TransportProcessor::create(tp, tp_memory, tp_rng, later, {}, GetParam()).error().code,
            Errc::cert_expired);
  EXPECT_EQ(protocol::AuthProxy::create(ap, sm_rng, later, {}, GetParam()).error().code, Errc::cert_expired);
}

INSTANTIATE_TEST_SUITE_P(Profiles, Expiry, ::testing::Values(wire::Profile::koo2010, wire::Profile::hardened1),
                         [](const auto& instance) { return std::string(wire::profile_name(instance.param)); });

}  // namespace
}  // namespace dcas

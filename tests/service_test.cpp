// The network services as real processes on loopback: `dcas ta serve`, `dcas ap serve` and
// `dcas host pair`, with the framing's checks, bad peers, a killed TA and two TAs on PostgreSQL.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cstring>
#include <mutex>

#include "net/channel.h"
#include "net/frame.h"
#include "observe/journal.h"
#include "observe/metrics.h"
#include "protocol/auth_proxy.h"
#include "protocol/role.h"
#include "provisioning/device_files.h"
#include "service/tls.h"
#include "service_support.h"
#include "wire/message.h"

namespace dcas::test {
namespace {

using net::Frame;
using net::FrameKind;

// ---- framing, I/O-free ----

std::array<std::uint8_t, net::frame_header_size> header_of(const Bytes& frame) {
  std::array<std::uint8_t, net::frame_header_size> h{};
  std::copy_n(frame.begin(), h.size(), h.begin());
  return h;
}

TEST(Frames, RoundTripAndEveryHeaderCheck) {
  const Bytes encoded = net::encode_frame({FrameKind::message, 0x0102030405060708, {0xaa, 0xbb}});
  EXPECT_EQ(to_hex(encoded), "0000000b010102030405060708aabb");
  auto h = net::parse_frame_header(header_of(encoded), 16);
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_EQ(h->kind, FrameKind::message);
  EXPECT_EQ(h->stream, 0x0102030405060708u);
  EXPECT_EQ(h->payload_size, 2u);

  EXPECT_EQ(net::parse_frame_header(header_of(encoded), 1).error().code, Errc::net_frame_too_large);
  Bytes short_length = encoded;
  short_length[3] = 8;  // below kind + stream
  EXPECT_EQ(net::parse_frame_header(header_of(short_length), 16).error().code, Errc::net_bad_frame);
  Bytes unknown_kind = encoded;
  unknown_kind[4] = 0x55;
  EXPECT_EQ(net::parse_frame_header(header_of(unknown_kind), 16).error().code, Errc::net_bad_frame);
  Bytes huge = encoded;
  huge[0] = huge[1] = huge[2] = huge[3] = 0xff;
  EXPECT_EQ(net::parse_frame_header(header_of(huge), net::default_max_payload).error().code, Errc::net_frame_too_large);
}

TEST(Frames, ErrorFramesCarryCodeAndDetail) {
  const Frame f = net::error_frame({Errc::net_busy, "at the cap"}, 7);
  EXPECT_EQ(f.kind, FrameKind::error);
  EXPECT_EQ(f.stream, 7u);
  auto e = net::parse_error_payload(f.payload);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, Errc::net_busy);
  EXPECT_EQ(e->detail, "at the cap");
  EXPECT_EQ(net::parse_error_payload(Bytes{0x00}).error().code, Errc::net_bad_frame);
  const Frame long_detail = net::error_frame({Errc::net_io, std::string(5000, 'x')});
  EXPECT_EQ(long_detail.payload.size(), 2 + net::max_error_detail);
}

TEST(Frames, HostPortParsing) {
  EXPECT_EQ(net::parse_host_port("127.0.0.1:7400")->port, "7400");
  EXPECT_EQ(net::parse_host_port("[::1]:80")->host, "::1");
  for (const char* bad : {"7400", "host:", ":80", "host:99999", "host:8x", "[::1]80"})
    EXPECT_EQ(net::parse_host_port(bad).error().code, Errc::invalid_argument) << bad;
}

// ---- a raw TCP peer, to misbehave, optionally speaking TLS ----

// TLS contexts from a device's or a TA's files (service/tls.h), for peers that play an AP or a TA.
std::shared_ptr<asio::ssl::context> device_tls(const Device& device) {
  auto identity = provisioning::load_device_identity(device.dir).value();
  return service::tls_context(service::TlsSide::client, identity.key, identity.certificate, identity.ta_root).value();
}
std::shared_ptr<asio::ssl::context> ta_tls(const fs::path& ta_dir) {
  auto root = provisioning::load_ta_identity(ta_dir / "ta.key", ta_dir / "ta.crt").value();
  return service::tls_context(service::TlsSide::server, root.key, root.certificate, root.certificate).value();
}

// OpenSSL writes with send() without MSG_NOSIGNAL: a peer that closed on a test's TLS connection
// must not kill the test binary.
[[maybe_unused]] const bool sigpipe_ignored = ::signal(SIGPIPE, SIG_IGN) != SIG_ERR;

class RawPeer {
 public:
  static RawPeer adopt(int fd) {
    RawPeer p;
    p.fd_ = fd;
    return p;
  }
  // The server side of TLS on an accepted connection; handshake_ok() says whether it completed.
  static RawPeer adopt_tls(int fd, asio::ssl::context& tls) {
    RawPeer p = adopt(fd);
    p.start_tls(tls, false);
    return p;
  }
  RawPeer(RawPeer&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)),
        ssl_(std::exchange(other.ssl_, nullptr)),
        handshake_ok_(other.handshake_ok_) {}
  explicit RawPeer(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("connect failed");
    timeval five{5, 0};  // a peer that never answers the handshake does not hang the test
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &five, sizeof five);
  }
  // The client side of TLS (the TA's link): handshake_ok() says whether the handshake completed.
  RawPeer(int port, asio::ssl::context& tls) : RawPeer(port) { start_tls(tls, true); }
  ~RawPeer() { close(); }
  bool handshake_ok() const { return handshake_ok_; }
  void close() {
    if (ssl_) SSL_free(ssl_);
    ssl_ = nullptr;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  void send(ByteView bytes) {
    if (ssl_)
      (void)SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()));
    else
      (void)!::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  }
  void send(const Frame& f) { send(net::encode_frame(f)); }
  // Exactly n bytes, or nullopt on timeout or end of stream.
  std::optional<Bytes> read(std::size_t n, std::chrono::milliseconds timeout) {
    Bytes out;
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (out.size() < n) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      pollfd p{fd_, POLLIN, 0};
      const bool buffered = ssl_ && SSL_pending(ssl_) > 0;
      if (!buffered && (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0)) return std::nullopt;
      std::uint8_t buf[4096];
      const auto want = std::min(sizeof buf, n - out.size());
      const auto got = ssl_ ? SSL_read(ssl_, buf, static_cast<int>(want)) : ::recv(fd_, buf, want, 0);
      if (got <= 0) {
        if (ssl_ && SSL_get_error(ssl_, static_cast<int>(got)) == SSL_ERROR_WANT_READ)
          continue;  // a TLS record in part
        return std::nullopt;
      }
      out.insert(out.end(), buf, buf + got);
    }
    return out;
  }
  std::optional<Frame> read_frame(std::chrono::milliseconds timeout = 5s) {
    auto header = read(net::frame_header_size, timeout);
    if (!header) return std::nullopt;
    std::array<std::uint8_t, net::frame_header_size> h{};
    std::copy(header->begin(), header->end(), h.begin());
    auto parsed = net::parse_frame_header(h, 1 << 20);
    if (!parsed) return std::nullopt;
    Frame f{parsed->kind, parsed->stream, {}};
    if (parsed->payload_size > 0) {
      auto payload = read(parsed->payload_size, timeout);
      if (!payload) return std::nullopt;
      f.payload = *payload;
    }
    return f;
  }
  // The error the server sent before closing, then checks the connection is closed.
  std::optional<Errc> error_then_closed(std::chrono::milliseconds timeout = 5s) {
    std::optional<Errc> code;
    while (auto f = read_frame(timeout))
      if (f->kind == FrameKind::error) code = net::parse_error_payload(f->payload).value().code;
    return code;
  }
  // Whether the server closed the connection without sending a single frame (a refused TLS
  // handshake, or a plain peer at a TLS port).
  bool closed_without_a_frame() { return !read_frame(); }

 private:
  RawPeer() = default;
  void start_tls(asio::ssl::context& tls, bool client) {
    ssl_ = SSL_new(tls.native_handle());
    SSL_set_fd(ssl_, fd_);
    // TLS 1.3: a client whose certificate the server refuses completes its side of the handshake
    // and learns of the refusal at its first read (closed_without_a_frame).
    handshake_ok_ = (client ? SSL_connect(ssl_) : SSL_accept(ssl_)) == 1;
  }
  int fd_ = -1;
  SSL* ssl_ = nullptr;
  bool handshake_ok_ = false;
};

// A TA that admits an AP and then never answers: records what the AP sends it. It speaks TLS as
// `tls` says (the TA root's, or an impostor's). Test double.
class SilentTa {
 public:
  explicit SilentTa(std::shared_ptr<asio::ssl::context> tls) : tls_(std::move(tls)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listener_, 4);
    socklen_t len = sizeof a;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    thread_ = std::jthread([this](std::stop_token stop) {
      while (!stop.stop_requested()) {
        const int fd = ::accept(listener_, nullptr, nullptr);
        if (fd < 0) return;
        timeval five{5, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &five, sizeof five);
        auto link = RawPeer::adopt_tls(fd, *tls_);
        if (!link.handshake_ok()) continue;  // the AP refused us: it tries again
        ++handshakes_;
        if (auto hello = link.read_frame(); !hello || hello->kind != FrameKind::hello) continue;
        link.send(Frame{FrameKind::welcome, 0, {}});
        while (!stop.stop_requested())
          if (auto f = link.read_frame(200ms)) {
            std::lock_guard lock(mutex_);
            received_.push_back(*f);
          }
      }
    });
  }
  ~SilentTa() {
    thread_.request_stop();
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
  }
  std::vector<Frame> received() {
    std::lock_guard lock(mutex_);
    return received_;
  }
  int handshakes() const { return handshakes_; }
  int port = 0;

 private:
  std::shared_ptr<asio::ssl::context> tls_;
  int listener_ = -1;
  std::atomic<int> handshakes_{0};
  std::mutex mutex_;
  std::vector<Frame> received_;
  std::jthread thread_;
};

// ---- the services ----

class Services : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    work_ = scratch(info->name());
    ta_dir_ = fresh_ta_dir(work_);
  }
  void TearDown() override {
    if (HasFailure())
      for (const auto& log : {"ta.log", "ap.log", "ta2.log", "ap2.log"})
        if (fs::exists(work_ / log)) std::cerr << "---- " << log << "\n" << slurp_file(work_ / log);
  }
  const Provisioned& p() const { return provisioned(); }
  nlohmann::json sm_state(const Device& sm, const std::string& db = "") {
    auto r = run_dcas("ta show " + sm.id + " --json --ta " + ta_dir_.string() + (db.empty() ? "" : " --db " + db));
    EXPECT_EQ(r.status, 0) << r.err;
    return nlohmann::json::parse(r.out);
  }
  void expect_consistent(const std::string& db = "") {
    auto r = run_dcas("ta check --json --ta " + ta_dir_.string() + (db.empty() ? "" : " --db " + db));
    EXPECT_EQ(r.status, 0) << r.out << r.err;
  }

  fs::path work_, ta_dir_;
};

TEST_F(Services, AHostPairsThroughTaAndApProcessesAndLeavesWhenItDisconnects) {
  auto ta = start_ta(work_, ta_dir_);
  auto ap = start_ap(work_, p().aps[0], ta);
  auto r = pair_host(p().sms[0], p().tps[0], ap, "--json");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  const auto out = nlohmann::json::parse(r.out);
  EXPECT_TRUE(out["paired"].get<bool>());
  EXPECT_EQ(out["sm_id"], p().sms[0].id);
  bool confirmed = false;
  for (const auto& j : out["journal"]) {
    auto record = observe::record_from_json(j);
    ASSERT_TRUE(record) << record.error().message();
    if (const auto* e = std::get_if<observe::EventRecord>(&*record))
      confirmed = confirmed || (e->at == Role::sm && protocol::is<protocol::events::KeysConfirmed>(e->event));
  }
  EXPECT_TRUE(confirmed);
  // The host disconnected: the AP reported it gone, the pair is Paired Only and bound.
  EXPECT_TRUE(eventually([&] { return sm_state(p().sms[0])["state"] == "paired-only"; }));
  EXPECT_EQ(sm_state(p().sms[0])["bound_tp"], p().tps[0].id);
  // Coming back: the pair rejoins.
  EXPECT_EQ(pair_host(p().sms[0], p().tps[0], ap).status, 0);
  expect_consistent();
}

TEST_F(Services, AHostKeepsItsSecureMemoriesInOwnerOnlyFilesAndRefusesDamagedOnes) {
  auto ta = start_ta(work_, ta_dir_);
  auto ap = start_ap(work_, p().aps[0], ta);
  const auto state = work_ / "host-state";
  ASSERT_EQ(pair_host(p().sms[6], p().tps[6], ap, "--state " + state.string()).status, 0);
  for (const char* file : {"sm.nvm", "tp.nvm"}) {
    ASSERT_TRUE(fs::exists(state / file)) << file;
    EXPECT_EQ(fs::status(state / file).permissions() & (fs::perms::group_all | fs::perms::others_all), fs::perms::none);
  }
  // What the TP verified (paper IV.2.A step 2) and the AP certificate the SM saw are kept.
  const auto tp_text = slurp_file(state / "tp.nvm");
  EXPECT_NE(tp_text.find("sm_id = " + p().sms[6].id), std::string::npos) << tp_text;
  const auto ap_der = pki::Certificate::load_file(p().aps[0].dir / "cert.pem").value().der();
  EXPECT_NE(slurp_file(state / "sm.nvm").find(to_hex(ap_der)), std::string::npos);
  // The next power-up reads them back and pairs again.
  EXPECT_EQ(pair_host(p().sms[6], p().tps[6], ap, "--state " + state.string()).status, 0);
  // A damaged memory is an error, not an empty memory.
  std::ofstream(state / "tp.nvm", std::ios::app) << "sm_id = zz\n";
  auto damaged = pair_host(p().sms[6], p().tps[6], ap, "--state " + state.string());
  EXPECT_EQ(damaged.status, 1);
  EXPECT_NE(damaged.err.find("tp.nvm is damaged"), std::string::npos) << damaged.err;
}

// The headend (an AP with its PS and download server) delivers the personalized image; an update cut
// off mid-transfer (the frame exceeds what the host accepts) leaves the installed image, and the
// next attempt installs the new version with the same CA key.
TEST_F(Services, AHeadendDeliversTheImageAndAnInterruptedUpdateLeavesTheInstalledOne) {
  const auto headend = work_ / "headend";
  ASSERT_EQ(run_dcas("headend init " + headend.string() + " --network-id 4e45540000000007").status, 0);
  auto ta = start_ta(work_, ta_dir_);
  auto ap = start_ap(work_, p().aps[0], ta, {"--headend", headend.string()});
  const auto box = work_ / "box";
  auto field = [&](const std::string& name) {
    const auto text = slurp_file(box / "sm.nvm");
    const auto at = text.find(name + " = ");
    return at == std::string::npos ? std::string() : text.substr(at, text.find('\n', at) - at);
  };
  auto r = pair_host(p().sms[0], p().tps[0], ap, "--json --state " + box.string());
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["image"]["version"], 1);
  EXPECT_EQ(j["image"]["network_id"], "4e45540000000007");
  EXPECT_EQ(field("image_version"), "image_version = 0000000000000001");
  const auto ca_key = field("image_ca_key");
  EXPECT_EQ(ca_key.size(), std::string("image_ca_key = ").size() + 32);

  ASSERT_EQ(run_dcas("headend publish --headend " + headend.string() + " --image-size 50000").status, 0);
  r = pair_host(p().sms[0], p().tps[0], ap, "--json --max-frame 30000 --state " + box.string());
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(nlohmann::json::parse(r.out)["error"], "net_frame_too_large") << r.out;
  EXPECT_EQ(field("image_version"), "image_version = 0000000000000001");  // still installed, still working

  r = pair_host(p().sms[0], p().tps[0], ap, "--json --state " + box.string());
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["image"]["version"], 2);
  EXPECT_EQ(field("image_version"), "image_version = 0000000000000002");
  EXPECT_EQ(field("image_ca_key"), ca_key);  // the SM's CA key on this network: EMMs keep working
  // A plain AP (no headend) offers no image: a virgin SM pairs and stays virgin.
  auto plain = start_ap(work_, p().aps[0], ta, {}, "ap2");
  r = pair_host(p().sms[1], p().tps[1], plain, "--json");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_TRUE(nlohmann::json::parse(r.out)["image"].is_null());
}

// `host run --watch` on a file that is not a transport stream fails (issue 13: it reported 0
// packets and exited 0), after the host paired and took its image.
TEST_F(Services, WatchingAFileThatIsNotATransportStreamFails) {
  const auto headend = work_ / "headend";
  ASSERT_EQ(run_dcas("headend init " + headend.string() + " --network-id 4e45540000000008").status, 0);
  auto ta = start_ta(work_, ta_dir_);
  auto ap = start_ap(work_, p().aps[0], ta, {"--headend", headend.string()});
  std::ofstream(work_ / "notes.txt") << std::string(4000, 'n');
  auto r = run_dcas(fmt::format("host run --sm {} --tp {} --ap {} --watch {} --out {} --quiet", p().sms[3].dir.string(),
                                p().tps[3].dir.string(), ap.address(), (work_ / "notes.txt").string(),
                                (work_ / "out.ts").string()));
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("ts_sync_lost"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not a transport stream"), std::string::npos) << r.err;
}

TEST_F(Services, RefusalsExitNonZeroAndAClonePairIsRefusedWhileTheOriginalIsPresent) {
  auto ta = start_ta(work_, ta_dir_);
  auto ap = start_ap(work_, p().aps[0], ta);
  ASSERT_EQ(pair_host(p().sms[1], p().tps[1], ap).status, 0);
  // The SM with another TP: bound elsewhere, the failure KPK.
  auto other = pair_host(p().sms[1], p().tps[2], ap);
  EXPECT_EQ(other.status, 1);
  EXPECT_NE(other.err.find("pairing_refused"), std::string::npos) << other.err;

  // The original host stays on the network; a second host with the same pair is refused.
  Process original({"host", "pair", "--sm", p().sms[1].dir.string(), "--tp", p().tps[1].dir.string(), "--ap",
                    ap.address(), "--hold"},
                   work_ / "original.log");
  ASSERT_TRUE(eventually([&] { return sm_state(p().sms[1])["state"] == "auth-paired"; })) << original.log();
  auto clone = pair_host(p().sms[1], p().tps[1], ap);
  EXPECT_EQ(clone.status, 1);
  EXPECT_NE(clone.err.find("pairing_refused"), std::string::npos) << clone.err;
  // A refused clone leaving does not make the original leave.
  EXPECT_EQ(sm_state(p().sms[1])["state"], "auth-paired");

  // The original leaves (SIGTERM): reported gone, and the pair may rejoin.
  original.kill(SIGTERM);
  EXPECT_EQ(original.wait(10s), 0) << original.log();
  EXPECT_TRUE(eventually([&] { return sm_state(p().sms[1])["state"] == "paired-only"; }));
  EXPECT_EQ(pair_host(p().sms[1], p().tps[1], ap).status, 0);
  expect_consistent();
}

TEST_F(Services, BadPeersGetAClearErrorOrAreDroppedWhileOthersAreServed) {
  auto ta = start_ta(work_, ta_dir_, {"--idle-timeout", "1", "--io-timeout", "1"});
  auto ap = start_ap(work_, p().aps[0], ta, {"--idle-timeout", "1", "--io-timeout", "1"});
  // At the TA the framing's checks run inside the link's TLS, here with an AP's own credentials.
  const auto ap_tls = device_tls(p().aps[1]);
  auto connect = [&](int port) {
    return port == ta.port ? std::make_unique<RawPeer>(port, *ap_tls) : std::make_unique<RawPeer>(port);
  };
  std::vector<std::unique_ptr<RawPeer>> idle;
  for (const int port : {ta.port, ap.port}) {
    {  // garbage: "GET / HTTP/1.1" read as a length prefix is far over the cap
      auto peer = connect(port);
      if (port == ap.port) {
        ASSERT_TRUE(peer->read_frame());  // the AP's SecurityAnnounce
      }
      peer->send(Bytes{'G', 'E', 'T', ' ', '/', ' ', 'H', 'T', 'T', 'P', '/', '1', '.', '1', '\r', '\n'});
      EXPECT_EQ(peer->error_then_closed(), Errc::net_frame_too_large);
    }
    {  // an oversized length prefix
      auto peer = connect(port);
      peer->send(Bytes{0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0, 0, 0, 0, 0, 0});
      EXPECT_EQ(peer->error_then_closed(), Errc::net_frame_too_large);
    }
    {  // an unknown frame kind
      auto peer = connect(port);
      peer->send(Bytes{0, 0, 0, 9, 0x55, 0, 0, 0, 0, 0, 0, 0, 0});
      EXPECT_EQ(peer->error_then_closed(), Errc::net_bad_frame);
    }
    {  // a slow sender: half a header, then nothing
      auto peer = connect(port);
      peer->send(Bytes{0, 0, 0});
      EXPECT_EQ(peer->error_then_closed(3s), Errc::net_timeout);
    }
    {  // a frame that promises more than it sends
      auto peer = connect(port);
      peer->send(Bytes{0, 0, 0, 100, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3});
      EXPECT_EQ(peer->error_then_closed(3s), Errc::net_timeout);
    }
    {  // an abrupt disconnect in the middle of a frame
      auto peer = connect(port);
      peer->send(Bytes{0, 0, 0, 100, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3});
      peer->close();
    }
    idle.push_back(connect(port));  // connected, silent, still open meanwhile
  }
  {                          // at the TA: TLS first, then a hello carrying the certificate TLS proved, a TA-issued AP's
    RawPeer plain(ta.port);  // no TLS: the handshake fails on the first bytes
    plain.send(Frame{FrameKind::hello, 0, pki::Certificate::load_file(p().aps[1].dir / "cert.pem").value().der()});
    EXPECT_TRUE(plain.closed_without_a_frame());
    RawPeer not_hello(ta.port, *ap_tls);
    not_hello.send(Frame{FrameKind::message, 1, {1, 2, 3}});
    EXPECT_EQ(not_hello.error_then_closed(), Errc::net_bad_frame);
    RawPeer bad_certificate(ta.port, *ap_tls);
    bad_certificate.send(Frame{FrameKind::hello, 0, {0x30, 0x03, 0x02, 0x01, 0x01}});
    EXPECT_EQ(bad_certificate.error_then_closed(), Errc::net_tls);
    RawPeer other_ap(ta.port, *ap_tls);  // proved AP 2's key, names AP 1
    other_ap.send(Frame{FrameKind::hello, 0, pki::Certificate::load_file(p().aps[0].dir / "cert.pem").value().der()});
    EXPECT_EQ(other_ap.error_then_closed(), Errc::net_tls);
    const auto sm_tls = device_tls(p().sms[0]);  // a TA-issued certificate, but an SM's
    RawPeer sm_as_ap(ta.port, *sm_tls);
    ASSERT_TRUE(sm_as_ap.handshake_ok());
    sm_as_ap.send(Frame{FrameKind::hello, 0, pki::Certificate::load_file(p().sms[0].dir / "cert.pem").value().der()});
    EXPECT_EQ(sm_as_ap.error_then_closed(), Errc::cert_wrong_role);
  }
  {  // at the AP: a KeyRequest that does not decode is answered with an error; the link stays
    RawPeer host(ap.port);
    ASSERT_TRUE(host.read_frame());
    host.send(Frame{FrameKind::message, 0, {0x01, 0x01, 0x07, 0x00, 0, 0, 0, 0}});
    auto answer = host.read_frame();
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->kind, FrameKind::error);
    host.send(Frame{FrameKind::ping, 0, {}});
  }
  // Everyone else is still served.
  auto r = pair_host(p().sms[2], p().tps[2], ap);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(ta.process->running());
  EXPECT_TRUE(ap.process->running());
  // The silent connections were dropped on the idle timeout.
  for (auto& peer : idle) EXPECT_TRUE(peer->error_then_closed(3s).has_value());
}

// The link attacks against the real TA server (docs/security.md): a link opened with an AP's
// public certificate alone is refused by the TLS handshake (spec §13.2), as is one whose
// certificate another root issued; and over a link of the AP's own (its key: an insider, or a leak)
// nothing recorded is taken twice or late (spec §13.5).
TEST_F(Services, AKeylessLinkIsRefusedAndTheTaTakesNoReplayedOrStaleApMessage) {
  auto ta = start_ta(work_, ta_dir_, {});
  auto identity = provisioning::load_device_identity(p().aps[0].dir).value();
  const Bytes certificate = identity.certificate.der();
  const auto own_tls =
      service::tls_context(service::TlsSide::client, identity.key, identity.certificate, identity.ta_root).value();
  const pki::Certificate ta_root = identity.ta_root;
  crypto::SeededRandom rng(view("recorded"));
  auto ap = protocol::AuthProxy::create(std::move(identity), rng, std::chrono::system_clock::now(), {},
                                        wire::Profile::hardened1)
                .value();
  const auto now = std::chrono::system_clock::now();
  const auto sm = SmId::from_hex(p().sms[0].id).value();
  // (In this order: the AP's times only increase.)
  const Bytes stale = ap.host_presence(sm, false, now - 10min).value();
  const Bytes report = ap.host_presence(sm, false, now - 1s).value();

  {  // the attacker: the AP's certificate, not its key; in the clear, as the link once took it
    RawPeer keyless(ta.port);
    keyless.send(Frame{FrameKind::hello, 0, certificate});
    EXPECT_TRUE(keyless.closed_without_a_frame());
  }
  {  // with a key of its own, under a certificate of its own making for the AP's ID; it trusts the
     // TA's root (public), so its side of the handshake completes and the TA judges the certificate
    auto attacker_key = crypto::RsaPrivateKey::generate().value();
    auto fake_root = pki::make_root(attacker_key, "Not the TA", pki::Validity::starting_now(1), rng).value();
    auto fake_ap = pki::issue_device(attacker_key, fake_root, Role::ap, from_hex(p().aps[0].id).value(),
                                     attacker_key.public_key(), pki::Validity::starting_now(1), rng)
                       .value();
    auto fake_tls = service::tls_context(service::TlsSide::client, attacker_key, fake_ap, ta_root).value();
    RawPeer forged(ta.port, *fake_tls);
    ASSERT_TRUE(forged.handshake_ok());
    forged.send(Frame{FrameKind::hello, 0, fake_ap.der()});
    EXPECT_TRUE(forged.closed_without_a_frame());
    ASSERT_TRUE(eventually([&] { return ta.process->log().find("certificate verify failed") != std::string::npos; }))
        << ta.process->log();
  }
  RawPeer link(ta.port, *own_tls);
  ASSERT_TRUE(link.handshake_ok());
  link.send(Frame{FrameKind::hello, 0, certificate});
  auto welcome = link.read_frame();
  ASSERT_TRUE(welcome);
  EXPECT_EQ(welcome->kind, FrameKind::welcome);
  auto answer_to = [&](std::uint64_t stream, const Bytes& message) {
    link.send(Frame{FrameKind::message, stream, message});
    return link.read_frame();
  };
  auto first = answer_to(1ull << 63, report);  // the original, delivered once
  ASSERT_TRUE(first);
  EXPECT_EQ(first->kind, FrameKind::ack);
  for (const auto& [stream, message] : {std::pair{(1ull << 63) + 1, report}, std::pair{(1ull << 63) + 2, stale}}) {
    auto refused = answer_to(stream, message);
    ASSERT_TRUE(refused);
    ASSERT_EQ(refused->kind, FrameKind::error);
    EXPECT_EQ(net::parse_error_payload(refused->payload)->code, Errc::not_fresh);
  }
}

// The TA's certificate is pinned: a server showing another certificate the TA root issued (an AP's
// key, leaked, playing the TA) completes no link; the AP keeps trying and sends it nothing.
TEST_F(Services, AnApRefusesATaImpostorWithAnotherTaIssuedCertificate) {
  auto impostor = provisioning::load_device_identity(p().aps[1].dir).value();
  SilentTa fake(
      service::tls_context(service::TlsSide::server, impostor.key, impostor.certificate, impostor.ta_root).value());
  Service ta{nullptr, fake.port};
  auto ap = start_ap(work_, p().aps[0], ta, {});
  ASSERT_TRUE(eventually([&] { return fake.handshakes() >= 2; })) << ap.process->log();
  EXPECT_TRUE(fake.received().empty());
  EXPECT_NE(ap.process->log().find("the TA presented a certificate other than the TA root"), std::string::npos)
      << ap.process->log();
}

// Over TLS the cap is enforced before the handshake: the extra connection is closed unanswered.
TEST_F(Services, ConnectionCapRefusesTheExtraConnection) {
  auto ta = start_ta(work_, ta_dir_, {"--max-connections", "1"});
  const auto ap_tls = device_tls(p().aps[0]);
  RawPeer first(ta.port, *ap_tls);
  ASSERT_TRUE(first.handshake_ok());
  std::this_thread::sleep_for(100ms);
  RawPeer second(ta.port, *ap_tls);
  EXPECT_FALSE(second.handshake_ok());
  EXPECT_TRUE(second.closed_without_a_frame());
  first.close();
  ASSERT_TRUE(eventually([&] {
    RawPeer again(ta.port, *ap_tls);
    if (!again.handshake_ok()) return false;
    again.send(Frame{FrameKind::hello, 0, pki::Certificate::load_file(p().aps[0].dir / "cert.pem").value().der()});
    auto welcome = again.read_frame();
    return welcome && welcome->kind == FrameKind::welcome;
  }));
}

TEST_F(Services, TaKilledInTheMiddleOfPairingRestartsConsistentAndRetryingHostsSucceed) {
  auto ta = start_ta(work_, ta_dir_);
  const int ta_port = ta.port;
  auto ap = start_ap(work_, p().aps[0], ta, {"--answer-timeout", "5"});
  constexpr int hosts = 12;
  std::vector<std::thread> threads;
  std::vector<CommandResult> results(hosts);
  for (int i = 0; i < hosts; ++i)
    threads.emplace_back(
        [&, i] { results[i] = pair_host(p().sms[i], p().tps[i], ap, "--json --attempts 40 --retry-delay 0.25"); });
  // Kill the TA as soon as it has validated one pair, while the others are in flight.
  ASSERT_TRUE(eventually([&] { return ta.process->log().find("pairing_validated") != std::string::npos; }, 30s));
  ta.process->kill(SIGKILL);
  ta.process->wait(5s);
  // What the killed TA left on disk is consistent: no half-done transition.
  expect_consistent();
  // Restarted on the same port, with the same store: the AP reconnects, the hosts retry.
  ta = start_ta(work_, ta_dir_, {}, "ta", ta_port);
  for (auto& t : threads) t.join();
  int retried = 0;
  for (int i = 0; i < hosts; ++i) {
    ASSERT_EQ(results[i].status, 0) << "host " << i << ": " << results[i].out << results[i].err;
    retried += nlohmann::json::parse(results[i].out)["attempts"].get<int>() > 1;
  }
  std::cerr << "[   INFO   ] " << retried << " of " << hosts << " hosts needed more than one attempt\n";
  EXPECT_TRUE(eventually([&] {
    auto list = run_dcas("ta list --json --state auth-paired --ta " + ta_dir_.string());
    return list.status == 0 && nlohmann::json::parse(list.out).empty();
  }));
  expect_consistent();
  for (int i = 0; i < hosts; ++i) EXPECT_EQ(sm_state(p().sms[i])["bound_tp"], p().tps[i].id);
}

TEST_F(Services, ATaStoppedMidTrafficFinishesOrCleanlyRefusesWhatIsInFlight) {
  auto ta = start_ta(work_, ta_dir_);
  auto ap = start_ap(work_, p().aps[0], ta);
  constexpr int hosts = 8;
  std::vector<std::thread> threads;
  std::vector<CommandResult> results(hosts);
  for (int i = 0; i < hosts; ++i)
    threads.emplace_back([&, i] { results[i] = pair_host(p().sms[i], p().tps[i], ap, "--json --timeout 20"); });
  ASSERT_TRUE(eventually([&] { return ta.process->log().find("pairing_validated") != std::string::npos; }, 30s));
  ta.process->kill(SIGTERM);
  EXPECT_EQ(ta.process->wait(10s), 0) << ta.process->log();
  for (auto& t : threads) t.join();
  // Every host got an answer: paired, or a transport error it may retry; none was left hanging
  // (the 20 s timeout) and none was refused by a check.
  int paired = 0;
  for (int i = 0; i < hosts; ++i) {
    const auto out = nlohmann::json::parse(results[i].out);
    if (out["paired"].get<bool>()) {
      ++paired;
      continue;
    }
    const std::string error = out["error"];
    EXPECT_TRUE(error == "net_shutting_down" || error == "net_unavailable" || error == "net_closed") << error;
  }
  EXPECT_GE(paired, 1);
  expect_consistent();
}

TEST_F(Services, ATaThatNeverAnswersTimesOutAndTheHostIsReportedGoneWhenItLeaves) {
  SilentTa silent(ta_tls(ta_dir_));
  Service ta{nullptr, silent.port};
  auto ap = start_ap(work_, p().aps[0], ta, {"--answer-timeout", "1"});
  auto r = pair_host(p().sms[5], p().tps[5], ap, "--json");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(nlohmann::json::parse(r.out)["error"], "net_timeout") << r.out;
  // The TA may have recorded the transition before going silent: when the host left, the AP
  // reported it gone, on a stream of its own so that the TA's ack can be matched.
  // Messages only: the AP also asks for the CRL (crl_request frames, spec §18).
  auto messages = [&] {
    std::vector<Frame> out;
    for (auto& f : silent.received())
      if (f.kind == FrameKind::message) out.push_back(f);
    return out;
  };
  ASSERT_TRUE(eventually([&] { return messages().size() >= 2; })) << ap.process->log();
  const auto frames = messages();
  EXPECT_EQ(frames[0].kind, FrameKind::message);
  EXPECT_EQ(protocol::peek_type(frames[0].payload).value(),
            static_cast<std::uint8_t>(wire::MessageType::key_request_ap_h1));  // the default profile
  const Frame& left = frames[1];
  EXPECT_EQ(protocol::peek_type(left.payload).value(), static_cast<std::uint8_t>(wire::MessageType::host_presence));
  EXPECT_GE(left.stream, std::uint64_t{1} << 63);
}

TEST_F(Services, AnApWithoutItsTaAnswersUnavailableAndRecoversWhenTheTaStarts) {
  // A free port for the TA, not yet listening.
  int ta_port = 0;
  {
    auto probe = start_ta(work_, ta_dir_, {}, "probe");
    ta_port = probe.port;
    probe.process->kill(SIGTERM);
    ASSERT_EQ(probe.process->wait(10s), 0);
  }
  Service absent_ta{nullptr, ta_port};
  auto ap = start_ap(work_, p().aps[0], absent_ta, {});
  auto r = pair_host(p().sms[3], p().tps[3], ap, "--json");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(nlohmann::json::parse(r.out)["error"], "net_unavailable") << r.out;
  auto ta = start_ta(work_, ta_dir_, {}, "ta", ta_port);
  auto retried = pair_host(p().sms[3], p().tps[3], ap, "--attempts 20 --retry-delay 0.2");
  EXPECT_EQ(retried.status, 0) << retried.err;
}

// An AP with no host to drain stops at once on SIGTERM (issue 13: it waited out its 7 s stop timer).
TEST_F(Services, AnIdleApStopsPromptly) {
  auto ta = start_ta(work_, ta_dir_);
  auto ap = start_ap(work_, p().aps[0], ta);
  ASSERT_TRUE(eventually([&] { return ap.process->log().find("connected to the TA") != std::string::npos; }));
  ap.process->kill(SIGTERM);
  EXPECT_EQ(ap.process->wait(2s), 0) << ap.process->log();
}

// Idle connections cannot starve hosts (issue 13: 300 held at the AP's cap left 0 of 3 hosts
// served): those not yet verified have slots of their own, the oldest giving way to a newer one,
// and the first frame's time only.
TEST_F(Services, IdleConnectionsAtTheCapDoNotStarveHosts) {
  auto ta = start_ta(work_, ta_dir_);
  auto ap = start_ap(work_, p().aps[0], ta, {"--max-connections", "12", "--max-unverified", "4"});
  std::vector<std::unique_ptr<RawPeer>> idle;
  for (int i = 0; i < 20; ++i) idle.push_back(std::make_unique<RawPeer>(ap.port));
  for (int host = 6; host < 9; ++host) {
    auto r = pair_host(p().sms[host], p().tps[host], ap);
    EXPECT_EQ(r.status, 0) << "host " << host << ": " << r.err;
  }
  std::size_t closed = 0;
  for (auto& peer : idle) closed += peer->error_then_closed(15s).has_value();
  EXPECT_EQ(closed, idle.size());  // each given way or timed out, with a reason
}

TEST_F(Services, ConfigFileSettingsAndAGracefulStop) {
  const auto config = work_ / "ta.conf";
  std::ofstream(config) << "# dcas ta serve settings\nta = " << ta_dir_.string()
                        << "\nlisten = 127.0.0.1:0\nthreads = 1\nmax-connections = 8\n";
  const auto port_file = work_ / "cfg.port";
  Process ta({"ta", "serve", "--config", config.string(), "--port-file", port_file.string()}, work_ / "ta.log");
  const int port = read_port(port_file, ta);
  EXPECT_TRUE(eventually([&] { return ta.log().find("1 thread(s)") != std::string::npos; })) << ta.log();
  Service as_service{nullptr, port};
  auto ap = start_ap(work_, p().aps[1], as_service);
  EXPECT_EQ(pair_host(p().sms[4], p().tps[4], ap).status, 0);
  ta.kill(SIGTERM);
  EXPECT_EQ(ta.wait(10s), 0);
  EXPECT_NE(ta.log().find("stopped"), std::string::npos);

  // Key paths apart from the TA directory: a key that is not the root's is refused before serving.
  auto wrong_key = run_dcas("ta serve --ta " + ta_dir_.string() + " --key " + (p().sms[0].dir / "key.pem").string());
  EXPECT_EQ(wrong_key.status, 1);
  EXPECT_NE(wrong_key.err.find("key_invalid"), std::string::npos) << wrong_key.err;

  std::ofstream(work_ / "bad.conf") << "no-such-setting = 1\n";
  auto bad = run_dcas("ta serve --config " + (work_ / "bad.conf").string());
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find("unknown setting 'no-such-setting'"), std::string::npos) << bad.err;
}

// ---- Operations: configuration files, SIGHUP reloads, systemd notices (issue 17) ----

TEST_F(Services, ConfigFileReportsEveryBadSettingAtOnceInTheFilesOrder) {
  std::ofstream(work_ / "bad.conf") << "ta = " << ta_dir_.string()
                                    << "\n# a comment\nbogus = 1\nmax-connections = many\nthreads = 0\n"
                                       "no equals sign\nta = again\nconfig = other.conf\n = 3\n";
  const auto r = run_dcas("ta serve --config " + (work_ / "bad.conf").string());
  EXPECT_EQ(r.status, 2);
  const std::vector<std::string> expected{
      "bad.conf: 7 bad setting(s)",           "bad.conf:3: unknown setting 'bogus'",
      "bad.conf:4: max-connections = many",   "bad.conf:5: threads = 0: --threads: Value 0 not in range 1 to 256",
      "bad.conf:6: expected 'name = value'",  "bad.conf:7: 'ta' is already set on line 1",
      "bad.conf:8: unknown setting 'config'", "bad.conf:9: a setting without a name"};
  std::size_t at = 0;
  for (const auto& line : expected) {
    const auto found = r.err.find(line, at);
    ASSERT_NE(found, std::string::npos) << "missing or out of order: " << line << "\n" << r.err;
    at = found;
  }
  EXPECT_EQ(run_dcas("ta serve --config " + (work_ / "missing.conf").string()).status, 2);

  // A store URI may carry a password: no refusal shows it, and neither does a store that fails.
  std::ofstream(work_ / "db.conf") << "ta = " << ta_dir_.string()
                                   << "\ndb = postgresql://dcas:hunter2@127.0.0.1:1/dcas\nbogus = 1\n";
  const auto refused = run_dcas("ta serve --config " + (work_ / "db.conf").string());
  EXPECT_EQ(refused.status, 2);
  EXPECT_EQ((refused.out + refused.err).find("hunter2"), std::string::npos) << refused.err;
  std::ofstream(work_ / "db.conf") << "ta = " << ta_dir_.string()
                                   << "\ndb = postgresql://dcas:hunter2@127.0.0.1:1/dcas\n";
  const auto unreachable = run_dcas("ta serve --config " + (work_ / "db.conf").string());
  EXPECT_EQ(unreachable.status, 1);
  EXPECT_EQ((unreachable.out + unreachable.err).find("hunter2"), std::string::npos) << unreachable.err;
}

// The unit's command line names only the file: required options come from it, and the command
// line still wins over it.
TEST_F(Services, ConfigFileGivesRequiredOptionsAndTheCommandLineWins) {
  auto ta = start_ta(work_, ta_dir_);
  const auto port_file = work_ / "ap.port";
  std::ofstream(work_ / "ap.conf") << "ap = " << p().aps[0].dir.string() << "\nta = " << ta.address()
                                   << "\nlisten = 127.0.0.1:1\nport-file = " << port_file.string()
                                   << "\nnetwork-id = 00000000000000c0\nquiet = false\n";
  Process ap({"ap", "serve", "--config", (work_ / "ap.conf").string(), "--listen", "127.0.0.1:0"}, work_ / "ap.log");
  Service as_service{nullptr, read_port(port_file, ap)};
  EXPECT_NE(as_service.port, 1);
  EXPECT_NE(ap.log().find("network 00000000000000c0"), std::string::npos) << ap.log();
  EXPECT_EQ(pair_host(p().sms[5], p().tps[5], as_service).status, 0);
  ap.kill(SIGTERM);
  EXPECT_EQ(ap.wait(10s), 0) << ap.log();
}

// SIGHUP applies the caps of the edited file to the next connection; a bad file changes nothing;
// a setting that needs a restart says so.
TEST_F(Services, SighupReloadsTheCapsAndABadFileChangesNothing) {
  const auto config = work_ / "ap.conf";
  const auto port_file = work_ / "ap.port";
  const auto write_config = [&](const std::string& extra) {
    std::ofstream(config) << "ap = " << p().aps[0].dir.string()
                          << "\nta = 127.0.0.1:9\nlisten = 127.0.0.1:0\nport-file = " << port_file.string() << "\n"
                          << extra;
  };
  write_config("max-connections = 8\n");
  Process ap({"ap", "serve", "--config", config.string()}, work_ / "ap.log");
  const int port = read_port(port_file, ap);
  RawPeer first(port), second(port);
  std::this_thread::sleep_for(100ms);

  write_config("max-connections = 2\nanswer-timeout = 3\n");
  ap.kill(SIGHUP);
  ASSERT_TRUE(eventually([&] { return ap.log().find("reloaded " + config.string()) != std::string::npos; }))
      << ap.log();
  EXPECT_NE(ap.log().find("max-connections = 2"), std::string::npos) << ap.log();
  EXPECT_NE(ap.log().find("applied only at the next start: answer-timeout"), std::string::npos) << ap.log();
  RawPeer third(port);
  EXPECT_EQ(third.error_then_closed(), Errc::net_busy);
  EXPECT_NE(ap.log().find("at the cap of 2 connections"), std::string::npos) << ap.log();

  // Good settings beside a bad one: none is applied (not the cap of 5, not quiet).
  write_config("max-connections = 5\nquiet = true\nmax-unverified = none\n");
  ap.kill(SIGHUP);
  ASSERT_TRUE(eventually([&] { return ap.log().find("reload refused, nothing changed") != std::string::npos; }))
      << ap.log();
  EXPECT_NE(ap.log().find("max-unverified = none"), std::string::npos) << ap.log();
  const auto refusals = [&] {
    std::size_t n = 0;
    for (auto at = ap.log().find("at the cap of 2 connections"); at != std::string::npos;
         at = ap.log().find("at the cap of 2 connections", at + 1))
      ++n;
    return n;
  };
  const std::size_t before = refusals();
  RawPeer fourth(port);
  EXPECT_EQ(fourth.error_then_closed(), Errc::net_busy);                     // still the cap of 2
  EXPECT_TRUE(eventually([&] { return refusals() > before; })) << ap.log();  // and still logging
  EXPECT_TRUE(ap.running());
  ap.kill(SIGTERM);
  EXPECT_EQ(ap.wait(10s), 0) << ap.log();
}

// The sd_notify protocol, as systemd's side of a Type=notify unit sees it: a datagram socket
// named by $NOTIFY_SOCKET.
TEST_F(Services, ServerTellsTheServiceManagerReadyReloadingAndStopping) {
  const auto path = work_ / "notify.sock";
  const int sock = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(sock, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  ASSERT_LT(path.string().size(), sizeof address.sun_path);
  std::strcpy(address.sun_path, path.c_str());
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  const auto next_notice = [&]() -> std::string {
    pollfd p{sock, POLLIN, 0};
    if (::poll(&p, 1, 10'000) <= 0) return "(none in 10 s)";
    char buf[512];
    const auto n = ::recv(sock, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "(recv failed)";
  };
  std::ofstream(work_ / "ta.conf") << "ta = " << ta_dir_.string() << "\n";
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);  // inherited by the server; each test is a process of its own
  auto ta = start_ta(work_, ta_dir_, {"--config", (work_ / "ta.conf").string()});
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_EQ(next_notice(), "READY=1\nSTATUS=serving");
  ta.process->kill(SIGHUP);
  EXPECT_EQ(next_notice(), "RELOADING=1\nSTATUS=reloading the configuration");
  EXPECT_EQ(next_notice(), "READY=1\nSTATUS=serving");
  ta.process->kill(SIGTERM);
  EXPECT_EQ(next_notice(), "STOPPING=1\nSTATUS=draining");
  EXPECT_EQ(ta.process->wait(10s), 0);
  ::close(sock);
}

// Under systemd, stderr is the journal's stream, which stamps each line: no time of our own.
TEST_F(Services, LogLinesCarryNoTimestampWhenStderrIsTheJournal) {
  const auto log = work_ / "ta.log";
  std::ofstream(log).close();
  struct stat st {};
  ASSERT_EQ(::stat(log.c_str(), &st), 0);
  ::setenv("JOURNAL_STREAM", fmt::format("{}:{}", st.st_dev, st.st_ino).c_str(), 1);
  auto ta = start_ta(work_, ta_dir_);
  ::unsetenv("JOURNAL_STREAM");
  ta.process->kill(SIGTERM);
  EXPECT_EQ(ta.process->wait(10s), 0);
  const auto text = slurp_file(log);
  EXPECT_EQ(text.rfind("ta: listening on ", 0), 0u) << text;
  EXPECT_NE(text.find("\nta: stopped\n"), std::string::npos) << text;
}

TEST_F(Services, TwoTaProcessesOnOnePostgresBindEachSmExactlyOnce) {
  auto db = fresh_postgres("two_tas");
  if (!db) GTEST_SKIP() << "no PostgreSQL cluster: run through scripts/test.sh (DCAS_TEST_POSTGRES)";
  // A TA directory of its own whose devices are registered in PostgreSQL.
  const auto pg = provision(work_ / "pg", 8, *db);
  ta_dir_ = pg.ta_dir;
  auto ta1 = start_ta(work_, ta_dir_, {"--db", *db}, "ta");
  auto ta2 = start_ta(work_, ta_dir_, {"--db", *db}, "ta2");
  auto ap1 = start_ap(work_, pg.aps[0], ta1, {}, "ap");
  auto ap2 = start_ap(work_, pg.aps[1], ta2, {}, "ap2");
  // Each virgin SM is offered with a different TP through each TA at the same moment.
  std::vector<std::thread> threads;
  std::vector<CommandResult> first(3), second(3);
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] { first[i] = pair_host(pg.sms[i], pg.tps[2 * i], ap1); });
    threads.emplace_back([&, i] { second[i] = pair_host(pg.sms[i], pg.tps[2 * i + 1], ap2); });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ((first[i].status == 0) + (second[i].status == 0), 1)
        << "SM " << i << ": " << first[i].err << " / " << second[i].err;
    const auto state = sm_state(pg.sms[i], *db);
    const auto& winner = first[i].status == 0 ? pg.tps[2 * i] : pg.tps[2 * i + 1];
    EXPECT_EQ(state["bound_tp"], winner.id);
  }
  // Both TAs keep serving the other SMs.
  EXPECT_EQ(pair_host(pg.sms[3], pg.tps[6], ap1).status, 0);
  EXPECT_EQ(pair_host(pg.sms[4], pg.tps[7], ap2).status, 0);
  expect_consistent(*db);
}

TEST_F(Services, AnApFailsOverToTheNextTaOfItsStoreWhenItsTaGoes) {
  auto db = fresh_postgres("failover");
  if (!db) GTEST_SKIP() << "no PostgreSQL cluster: run through scripts/test.sh (DCAS_TEST_POSTGRES)";
  const auto pg = provision(work_ / "pg", 2, *db);
  ta_dir_ = pg.ta_dir;
  auto ta1 = start_ta(work_, ta_dir_, {"--db", *db}, "ta");
  auto ta2 = start_ta(work_, ta_dir_, {"--db", *db}, "ta2");
  auto ap = start_ap(work_, pg.aps[0], ta1, {"--ta", ta2.address()});
  auto linked_to = [&](const Service& ta) {
    return eventually(
        [&] { return ap.process->log().find("connected to the TA at " + ta.address()) != std::string::npos; });
  };
  ASSERT_TRUE(linked_to(ta1));
  EXPECT_EQ(pair_host(pg.sms[0], pg.tps[0], ap).status, 0);
  ta1.process->kill(SIGKILL);
  ASSERT_TRUE(linked_to(ta2));
  auto r = pair_host(pg.sms[1], pg.tps[1], ap);
  EXPECT_EQ(r.status, 0) << r.err;
  // The first host comes back through the other node: one store, so a rejoin.
  EXPECT_TRUE(eventually([&] { return sm_state(pg.sms[0], *db)["state"] == "paired-only"; }));
  r = pair_host(pg.sms[0], pg.tps[0], ap);
  EXPECT_EQ(r.status, 0) << r.err;
  expect_consistent(*db);
}

// Every line of a --log-format json log, parsed (a line that is not a JSON object fails the test).
std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    EXPECT_TRUE(j.is_object() && j.contains("time") && j.contains("level") && j.contains("component") &&
                j.contains("event") && j.contains("message"))
        << line;
    out.push_back(std::move(j));
  }
  return out;
}

bool has_line(const std::vector<nlohmann::json>& lines, const nlohmann::json& expected) {
  return std::any_of(lines.begin(), lines.end(), [&](const nlohmann::json& j) {
    for (const auto& [key, value] : expected.items())
      if (!j.contains(key) || j[key] != value) return false;
    return true;
  });
}

TEST_F(Services, JsonLogLinesNameTheEventItsIdsAndItsErrorCode) {
  auto ta = start_ta(work_, ta_dir_, {"--log-format", "json"});
  auto ap = start_ap(work_, p().aps[0], ta, {"--log-format", "json", "--crl-refresh", "0.2"});
  ASSERT_EQ(pair_host(p().sms[0], p().tps[0], ap).status, 0);
  EXPECT_NE(pair_host(p().sms[0], p().tps[1], ap).status, 0);
  ASSERT_EQ(run_dcas(fmt::format("ta revoke sm {} --reason test --ta {}", p().sms[2].id, ta_dir_.string())).status, 0);
  ASSERT_TRUE(eventually([&] { return ap.process->log().find("crl_adopted") != std::string::npos; }));
  const auto revoked = run_dcas(fmt::format("host pair --sm {} --tp {} --ap {} --log-format json",
                                            p().sms[2].dir.string(), p().tps[2].dir.string(), ap.address()));
  EXPECT_NE(revoked.status, 0);

  const auto t = json_lines(ta.process->log());
  EXPECT_TRUE(has_line(t, {{"level", "info"},
                           {"component", "ta"},
                           {"event", "pairing_validated"},
                           {"sm", p().sms[0].id},
                           {"tp", p().tps[0].id},
                           {"verdict", "bound_virgin_pair"}}));
  EXPECT_TRUE(has_line(t, {{"level", "warning"},
                           {"event", "pairing_refused"},
                           {"sm", p().sms[0].id},
                           {"tp", p().tps[1].id},
                           {"verdict", "refused_bound_elsewhere"}}));
  const auto a = json_lines(ap.process->log());
  EXPECT_TRUE(has_line(a, {{"component", "ap"}, {"event", "refusal_relayed"}, {"level", "warning"}}));
  EXPECT_TRUE(has_line(a, {{"event", "crl_adopted"}, {"number", "1"}}));
  // The revoked SM's host: which check stopped it, by its error code's name.
  const auto h = json_lines(revoked.err);
  EXPECT_TRUE(has_line(h, {{"component", "host"}, {"role", "sm"}, {"level", "warning"}, {"error", "cert_revoked"}}))
      << revoked.err;
}

// ---- metrics (--metrics, docs/spec.md §20) ----

// The port a server's log line "metrics on http://HOST:PORT/metrics" names.
int metrics_port(const Process& server) {
  int port = 0;
  eventually([&] {
    const auto log = server.log();
    const auto at = log.find("metrics on http://127.0.0.1:");
    if (at != std::string::npos) port = std::atoi(log.c_str() + at + std::strlen("metrics on http://127.0.0.1:"));
    return port > 0;
  });
  if (port == 0) throw std::runtime_error("no metrics endpoint in the log:\n" + server.log());
  return port;
}

// One scrape with a real HTTP client: each sample's value by its series ("name{labels}").
std::map<std::string, double> scrape(int port) {
  std::map<std::string, double> samples;
  std::istringstream text(output_of(fmt::format("curl -sSf --max-time 5 http://127.0.0.1:{}/metrics", port)));
  for (std::string line; std::getline(text, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return samples;
}

TEST(Metrics, AnApCountsRefusalsByErrorAndServesOnlyItsOwnFamilies) {
  namespace ev = protocol::events;
  auto metrics = observe::Metrics::serve("127.0.0.1:0", Role::ap);
  ASSERT_TRUE(metrics) << metrics.error().message();
  auto& m = **metrics;
  m.on_event(ev::KeyRequestRefused{{Errc::signature_invalid, "x"}});
  m.on_event(ev::KeyRequestRefused{{Errc::signature_invalid, "y"}});
  m.on_event(ev::KeyResponseRefused{{Errc::cert_revoked, "z"}});
  m.on_event(ev::CrlAdopted{7, 2});
  m.on_event(ev::ImageKeyGranted{SmId{}, 3});
  m.on_event(ev::PairingValidated{SmId{}, TpId{}, protocol::Verdict::rejoined});  // the TA's: no AP family
  m.connection_refused(Errc::net_tls);
  m.request_served("key_request", 0.003);
  auto s = scrape(m.port());
  EXPECT_EQ(s[R"(dcas_ap_requests_refused_total{error="signature_invalid",message="key_request"})"], 2);
  EXPECT_EQ(s[R"(dcas_ap_requests_refused_total{error="cert_revoked",message="key_response"})"], 1);
  EXPECT_EQ(s["dcas_crl_number"], 7);
  EXPECT_EQ(s["dcas_ap_image_keys_granted_total"], 1);
  EXPECT_EQ(s[R"(dcas_connections_refused_total{error="net_tls"})"], 1);
  EXPECT_EQ(s[R"(dcas_request_duration_seconds_bucket{message="key_request",le="0.002"})"], 0);
  EXPECT_EQ(s[R"(dcas_request_duration_seconds_bucket{message="key_request",le="0.005"})"], 1);
  for (const auto& [series, value] : s) EXPECT_FALSE(series.starts_with("dcas_ta_")) << series;
  // A second endpoint on the same port: a clear error, not a crash.
  auto taken = observe::Metrics::serve(fmt::format("127.0.0.1:{}", m.port()), Role::ta);
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().code, Errc::net_io);
}

TEST_F(Services, MetricsEndpointsCountWhatTheTaAndApDidWhileTheyRun) {
  auto ta = start_ta(work_, ta_dir_, {"--metrics", "127.0.0.1:0", "--max-connections", "1"});
  const int ta_metrics = metrics_port(*ta.process);
  auto before = scrape(ta_metrics);
  EXPECT_EQ(before[R"(dcas_ta_sms{state="virgin"})"], 16);
  EXPECT_EQ(before[R"(dcas_ta_sms{state="auth-paired"})"], 0);
  EXPECT_EQ(before[R"(dcas_ta_pairings_total{verdict="bound_virgin_pair"})"], 0);
  EXPECT_EQ(before["dcas_crl_number"], 0);

  auto ap = start_ap(work_, p().aps[0], ta, {"--metrics", "127.0.0.1:0", "--crl-refresh", "0.2"});
  const int ap_metrics = metrics_port(*ap.process);
  ASSERT_TRUE(eventually([&] { return scrape(ap_metrics)["dcas_ap_ta_link_up"] == 1; }));
  // A second AP is over the TA's cap of one connection: refused before its TLS handshake.
  auto ap2 = start_ap(work_, p().aps[1], ta, {}, "ap2");
  EXPECT_TRUE(
      eventually([&] { return scrape(ta_metrics)[R"(dcas_connections_refused_total{error="net_busy"})"] >= 1; }));

  // A pairing, then the same SM with another TP (bound elsewhere), then a revoked SM (which stops
  // on the AP's announcement of the new CRL: no KeyRequest), then a frame no host may send.
  ASSERT_EQ(pair_host(p().sms[0], p().tps[0], ap).status, 0);
  EXPECT_NE(pair_host(p().sms[0], p().tps[1], ap).status, 0);
  ASSERT_EQ(run_dcas(fmt::format("ta revoke sm {} --reason test --ta {}", p().sms[2].id, ta_dir_.string())).status, 0);
  EXPECT_TRUE(eventually([&] { return scrape(ap_metrics)["dcas_crl_number"] == 1; }));
  EXPECT_NE(pair_host(p().sms[2], p().tps[2], ap).status, 0);
  {
    RawPeer host(ap.port);
    host.send(net::encode_frame({FrameKind::hello, 0, {}}));
    host.read_frame();  // the announcement
  }

  // The TA: two verdicts, two requests timed, the host's departure, its SMs by state, the CRL.
  EXPECT_TRUE(eventually([&] { return scrape(ta_metrics)[R"(dcas_ta_presence_reports_total{report="left"})"] >= 1; }));
  auto t = scrape(ta_metrics);
  EXPECT_EQ(t[R"(dcas_ta_pairings_total{verdict="bound_virgin_pair"})"], 1);
  EXPECT_EQ(t[R"(dcas_ta_pairings_total{verdict="refused_bound_elsewhere"})"], 1);
  EXPECT_EQ(t[R"(dcas_request_duration_seconds_count{message="key_request"})"], 2);
  EXPECT_GT(t[R"(dcas_request_duration_seconds_sum{message="key_request"})"], 0);
  EXPECT_EQ(t[R"(dcas_request_duration_seconds_bucket{message="key_request",le="+Inf"})"], 2);
  EXPECT_EQ(t[R"(dcas_ta_sms{state="paired-only"})"], 1);
  EXPECT_EQ(t[R"(dcas_ta_sms{state="virgin"})"], 15);
  EXPECT_EQ(t["dcas_connections_accepted_total"], 1);
  EXPECT_EQ(t["dcas_connections_open"], 1);
  EXPECT_EQ(t["dcas_crl_number"], 1);

  // The AP: one pairing relayed, one refusal relayed, the bad frame, its four hosts.
  EXPECT_TRUE(
      eventually([&] { return scrape(ap_metrics)[R"(dcas_error_frames_sent_total{error="net_bad_frame"})"] == 1; }));
  auto a = scrape(ap_metrics);
  EXPECT_EQ(a[R"(dcas_ap_pairings_total{outcome="paired"})"], 1);
  EXPECT_EQ(a[R"(dcas_ap_pairings_total{outcome="refused_by_ta"})"], 1);
  EXPECT_EQ(a[R"(dcas_ap_pairings_total{outcome="timed_out"})"], 0);
  EXPECT_EQ(a[R"(dcas_request_duration_seconds_count{message="key_request"})"], 2);
  EXPECT_EQ(a["dcas_connections_accepted_total"], 4);
  EXPECT_TRUE(eventually([&] { return scrape(ap_metrics)["dcas_connections_open"] == 0; }));
  EXPECT_EQ(a["dcas_ap_ta_link_up"], 1);
  EXPECT_EQ(a["dcas_ap_presence_backlog"], 0);
}

}  // namespace
}  // namespace dcas::test

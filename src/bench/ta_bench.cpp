// `dcas bench ta`: pairings per second through a TA server on loopback (the real service: framing,
// threads, a durable SQLite store), against the TA's RSA private-key cost per request measured in
// the same run; and PSI transitions per second on each store backend against the cost of a bare
// durable commit on the same database.
#include <benchmark/benchmark.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <sched.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "bench/harness.h"
#include "pki/authority.h"
#include "protocol/auth_proxy.h"
#include "protocol/envelope.h"
#include "service/ta_service.h"
#include "service/tls.h"
#include "store/postgres_store.h"
#include "store/sqlite_store.h"

namespace dcas::bench {
namespace {

using namespace protocol;
namespace fs = std::filesystem;

constexpr int pairs = 64;  // SM/TP pairs, validated again and again (a lease of 0 re-validates each)
// KeyRequests signed at start, each sent once: enough for the run's --min-time (a round's
// benchmark runs Google Benchmark's iteration estimate before its timed run, about twice the
// timed requests; the three pairing benchmarks together take under 6000 a second of --min-time).
std::size_t request_pool() {
  return std::clamp<std::size_t>(static_cast<std::size_t>(run_min_seconds() * 6000), 4096, 400'000);
}
constexpr int window = 16;  // requests in flight per client connection

TimePoint wall() { return std::chrono::system_clock::now(); }

fs::path scratch_dir() {
  static const fs::path dir = [] {
    auto d = fs::temp_directory_path() / ("dcas-bench-ta-" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    std::atexit([] { fs::remove_all(fs::temp_directory_path() / ("dcas-bench-ta-" + std::to_string(::getpid()))); });
    return d;
  }();
  return dir;
}

// Pins the calling thread to one CPU (no-op on a one-CPU machine); returns the previous set.
cpu_set_t pin_to(int cpu) {
  cpu_set_t before;
  CPU_ZERO(&before);
  pthread_getaffinity_np(pthread_self(), sizeof before, &before);
  if (std::thread::hardware_concurrency() > 1) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    pthread_setaffinity_np(pthread_self(), sizeof one, &one);
  }
  return before;
}
void restore(const cpu_set_t& set) { pthread_setaffinity_np(pthread_self(), sizeof set, &set); }

// The TA's keys, an AP, and `pairs` registered SM/TP pairs with KeyRequests already signed: each
// request is sent once (the TA refuses a replayed one, docs/spec.md §13.5), so there are enough of
// them for a long run, with times the bench's TA accepts for an hour (bench_policy).
struct Keys {
  crypto::SeededRandom rng{view("bench ta")};
  crypto::RsaPrivateKey ta_key = crypto::RsaPrivateKey::generate().value(),
                        ap_key = crypto::RsaPrivateKey::generate().value();
  pki::Validity validity = pki::Validity::starting_now(30);
  pki::Certificate root = pki::make_root(ta_key, "Bench TA", validity, rng).value();
  pki::Certificate ap_cert = pki::issue_device(ta_key, root, Role::ap, from_hex("4100000000000001").value(),
                                               ap_key.public_key(), validity, rng)
                                 .value();
  std::vector<Bytes> requests;
  std::atomic<std::size_t> next_request{0};

  // Signed on every core (~4 s per 12288 requests on one).
  Keys() : requests(request_pool()) {
    const auto ta_pub = root.public_key().value();
    const auto start = protocol::to_unix_ms(wall());
    const unsigned workers = std::max(1u, std::thread::hardware_concurrency());
    std::vector<std::jthread> signing;
    for (unsigned w = 0; w < workers; ++w)
      signing.emplace_back([&, w] {
        for (std::size_t i = w; i < requests.size(); i += workers) {
          Bytes kpid = pair_id(static_cast<int>(i % pairs));
          auto encrypted = encrypt_to(ta_pub, kpid, crypto::system_random()).value();
          requests[i] =
              sign_and_encode({wire::Profile::koo2010,
                               wire::KeyRequestFromAp{from_hex("4100000000000001").value(), encrypted, start + i, {}},
                               {}},
                              ap_key, crypto::system_random())
                  .value();
        }
      });
  }
  // The next request never sent; null when the pool is spent (a run longer than it was made for).
  const Bytes* take() {
    const auto i = next_request++;
    return i < requests.size() ? &requests[i] : nullptr;
  }
  static Bytes pair_id(int i) {
    Bytes id = from_hex(
                   "5300000000000000"
                   "5400000000000000")
                   .value();
    id[7] = static_cast<std::uint8_t>(i);
    id[15] = static_cast<std::uint8_t>(i);
    return id;
  }
  static SecureBytes ki(int i) { return SecureBytes(16, static_cast<std::uint8_t>(i + 1)); }
  void register_pairs(PairingStore& store) const {
    for (int i = 0; i < pairs; ++i) {
      const Bytes id = pair_id(i);
      store.add_sm(SmId::from_bytes(ByteView(id).first(8)).value(), {ki(i), ki(i), ki(i)}).value();
      store.add_tp(TpId::from_bytes(ByteView(id).subspan(8)).value()).value();
    }
  }
};

constexpr const char* spent = "every pre-signed request is spent; lower --min-time";

Keys& keys() {
  static Keys k;
  return k;
}

// A presence lease of 0 (every request is a real validation and a durable write) and an hour's
// window for the AP times of the requests signed at start.
TaPolicy bench_policy() {
  TaPolicy p;
  p.presence_lease = std::chrono::seconds(0);
  p.link_window = std::chrono::hours(1);
  return p;
}

// A TA server in this process, its io threads optionally pinned to CPU 0.
struct Server {
  std::unique_ptr<store::SqlitePairingStore> store;
  std::unique_ptr<TrustedAuthority> ta;
  asio::io_context io;
  std::unique_ptr<service::TaService> service;
  std::vector<std::jthread> threads;
  std::atomic<int> refused{0};
  int port = 0;

  Server(const std::string& name, unsigned thread_count, bool pin) {
    const auto path = scratch_dir() / (name + ".sqlite");
    store = store::SqlitePairingStore::open(path, Bytes(32, 0x42)).value();
    keys().register_pairs(*store);
    ta = std::make_unique<TrustedAuthority>(Identity{keys().ta_key, keys().root, keys().root}, *store,
                                            crypto::system_random(), bench_policy());
    service::TaServiceConfig config;
    config.tls = service::tls_context(service::TlsSide::server, keys().ta_key, keys().root, keys().root).value();
    config.max_in_flight = 4 * window;
    service = std::make_unique<service::TaService>(io, *ta, config, [this](std::string_view line) {
      if (line.starts_with("pairing_refused") || line.starts_with("request_refused")) ++refused;
    });
    port = service->server().listen({"127.0.0.1", "0"}).value().port();
    service->server().start();
    for (unsigned i = 0; i < thread_count; ++i)
      threads.emplace_back([this, pin] {
        if (pin) pin_to(0);
        io.run();
      });
  }
  ~Server() {
    io.stop();
    threads.clear();
  }
};

// A blocking AP-side client: the TLS handshake, hello, then requests with `window` in flight.
struct Client {
  asio::io_context io;
  std::shared_ptr<asio::ssl::context> tls =
      service::tls_context(service::TlsSide::client, keys().ap_key, keys().ap_cert, keys().root).value();
  net::TlsStream socket{io, *tls};
  std::size_t next = 0;

  explicit Client(int port) {
    socket.next_layer().connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
    socket.next_layer().set_option(net::tcp::no_delay(true));
    socket.handshake(asio::ssl::stream_base::client);
    send({net::FrameKind::hello, 0, keys().ap_cert.der()});
    if (receive().kind != net::FrameKind::welcome) throw std::runtime_error("TA did not welcome the bench AP");
  }
  void send(const net::Frame& f) { asio::write(socket, asio::buffer(net::encode_frame(f))); }
  // False when the pool of signed requests is spent.
  bool send_request() {
    const Bytes* request = keys().take();
    if (!request) return false;
    send({net::FrameKind::message, ++next, *request});
    return true;
  }
  net::Frame receive() {
    std::array<std::uint8_t, net::frame_header_size> h{};
    asio::read(socket, asio::buffer(h));
    auto header = net::parse_frame_header(h, net::default_max_payload).value();
    net::Frame f{header.kind, header.stream, Bytes(header.payload_size)};
    asio::read(socket, asio::buffer(f.payload));
    return f;
  }
};

Server& server(bool one_core) {
  static Server pinned("one_core", 2, true);  // a second thread overlaps one request's fsync with another's RSA
  static Server unpinned("two_cores", 4, false);
  return one_core ? pinned : unpinned;
}

void pairings(benchmark::State& state, bool one_core) {
  auto& s = server(one_core);
  const cpu_set_t before = one_core ? pin_to(1) : cpu_set_t{};  // the client keeps off the TA's core
  {
    Client client(s.port);
    int outstanding = 0;
    for (int i = 0; i < window; ++i) outstanding += client.send_request();
    for (auto _ : state) {
      if (outstanding == 0 || client.receive().kind != net::FrameKind::message) {
        state.SkipWithError(outstanding == 0 ? spent : "the TA refused a request");
        break;
      }
      --outstanding;
      outstanding += client.send_request();
    }
    for (; outstanding > 0; --outstanding) client.receive();
  }
  if (one_core) restore(before);
  if (s.refused > 0) state.SkipWithError("a pairing was refused: the figure would not count pairings");
}

// The same requests handed to TrustedAuthority::receive directly on one thread: the TA's work
// without the network and the threads, to show what the service itself costs.
void direct_requests(benchmark::State& state) {
  static auto store = [] {
    auto st = store::SqlitePairingStore::open(scratch_dir() / "direct.sqlite", Bytes(32, 0x42)).value();
    keys().register_pairs(*st);
    return st;
  }();
  TrustedAuthority ta({keys().ta_key, keys().root, keys().root}, *store, crypto::system_random(), bench_policy());
  ta.register_ap(keys().ap_cert, wall()).value();
  const cpu_set_t before = pin_to(0);
  for (auto _ : state) {
    const Bytes* request = keys().take();
    if (!request || ta.receive(1, *request, wall()).messages.empty()) {
      state.SkipWithError(request ? "refused" : spent);
      break;
    }
  }
  restore(before);
}

// The TA's RSA private-key operations for one KeyRequest: decrypt the KeyPairingID, sign the KPK,
// sign the KeyResponse. One thread.
void rsa_private_ops(benchmark::State& state) {
  auto& k = keys();
  const Bytes kpid = Keys::pair_id(0), kpk(16, 0x33), message(400, 0x5a);
  const auto ct = crypto::oaep_encrypt(k.root.public_key().value(), kpid, crypto::system_random()).value();
  const cpu_set_t before = pin_to(0);
  for (auto _ : state) {
    benchmark::DoNotOptimize(crypto::oaep_decrypt(k.ta_key, ct));
    benchmark::DoNotOptimize(crypto::pss_sign(k.ta_key, kpk, crypto::system_random()));
    benchmark::DoNotOptimize(crypto::pss_sign(k.ta_key, message, crypto::system_random()));
  }
  restore(before);
}

// ---- PSI transitions per backend ----

void transitions(benchmark::State& state, PairingStore& store) {
  const Bytes id = Keys::pair_id(0);
  const SmId sm = SmId::from_bytes(ByteView(id).first(8)).value();
  const TpId tp = TpId::from_bytes(ByteView(id).subspan(8)).value();
  for (auto _ : state) {
    auto outcome = store.validate_and_record(sm, tp, wall(), std::chrono::seconds(0));
    if (!outcome || !verdict_succeeds(outcome->verdict)) state.SkipWithError("transition failed");
  }
}

void sqlite_transition(benchmark::State& state) {
  static auto store = [] {
    auto s = store::SqlitePairingStore::open(scratch_dir() / "transitions.sqlite", Bytes(32, 0x42)).value();
    keys().register_pairs(*s);
    return s;
  }();
  transitions(state, *store);
}

// A bare durable write on SQLite, configured as the store is (WAL, synchronous=FULL).
void sqlite_durable_commit(benchmark::State& state) {
  sqlite3* db = nullptr;
  sqlite3_open((scratch_dir() / "commit.sqlite").c_str(), &db);
  sqlite3_exec(db,
               "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
               "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v INTEGER);"
               "INSERT OR IGNORE INTO t VALUES (1, 0);",
               nullptr, nullptr, nullptr);
  for (auto _ : state)
    if (sqlite3_exec(db, "BEGIN IMMEDIATE; UPDATE t SET v = v + 1 WHERE id = 1; COMMIT;", nullptr, nullptr, nullptr) !=
        SQLITE_OK)
      state.SkipWithError("commit failed");
  sqlite3_close(db);
}

// PostgreSQL: DCAS_BENCH_POSTGRES (or the tests' DCAS_TEST_POSTGRES) names a database to use.
const char* postgres_uri() {
  const char* uri = std::getenv("DCAS_BENCH_POSTGRES");
  return uri ? uri : std::getenv("DCAS_TEST_POSTGRES");
}

void postgres_transition(benchmark::State& state) {
  if (!postgres_uri()) return state.SkipWithError("no PostgreSQL: set DCAS_BENCH_POSTGRES");
  static auto store = [] {
    auto s = store::PostgresPairingStore::open(postgres_uri(), Bytes(32, 0x42)).value();
    const Bytes id = Keys::pair_id(0);
    (void)s->add_sm(SmId::from_bytes(ByteView(id).first(8)).value(), {Keys::ki(0), Keys::ki(0), Keys::ki(0)});
    (void)s->add_tp(TpId::from_bytes(ByteView(id).subspan(8)).value());
    return s;
  }();
  transitions(state, *store);
}

// A bare durable write on the same server, over libpq as the store talks to it.
void postgres_durable_commit(benchmark::State& state) {
  if (!postgres_uri()) return state.SkipWithError("no PostgreSQL: set DCAS_BENCH_POSTGRES");
  PGconn* conn = PQconnectdb(postgres_uri());
  PQclear(PQexec(conn, "SET client_min_messages = warning"));
  PQclear(PQexec(conn, "CREATE TABLE IF NOT EXISTS dcas_bench_commit (id INTEGER PRIMARY KEY, v BIGINT)"));
  PQclear(PQexec(conn, "INSERT INTO dcas_bench_commit VALUES (1, 0) ON CONFLICT DO NOTHING"));
  for (auto _ : state) {
    for (const char* sql : {"BEGIN", "UPDATE dcas_bench_commit SET v = v + 1 WHERE id = 1", "COMMIT"}) {
      PGresult* r = PQexec(conn, sql);
      if (PQresultStatus(r) != PGRES_COMMAND_OK) state.SkipWithError("commit failed");
      PQclear(r);
    }
  }
  PQfinish(conn);
}

}  // namespace

BENCHMARK_CAPTURE(pairings, one_core, true)->Name("ta/pairings_one_core")->UseRealTime();
BENCHMARK_CAPTURE(pairings, two_cores, false)->Name("ta/pairings_two_cores")->UseRealTime();
BENCHMARK(rsa_private_ops)->Name("ta/rsa_private_ops")->UseRealTime();
BENCHMARK(direct_requests)->Name("ta/direct_requests")->UseRealTime();
BENCHMARK(sqlite_transition)->Name("ta/sqlite_transition")->UseRealTime();
BENCHMARK(sqlite_durable_commit)->Name("ta/sqlite_durable_commit")->UseRealTime();
BENCHMARK(postgres_transition)->Name("ta/postgres_transition")->UseRealTime();
BENCHMARK(postgres_durable_commit)->Name("ta/postgres_durable_commit")->UseRealTime();

static SuiteRegistration ta_suite{
    {"ta",
     "Pairings per second through a TA server, and PSI transitions per second on each store backend",
     {{"pairings through a TA server on one core / TA RSA private ops (1 decrypt + 2 signs)", "ta/pairings_one_core",
       "ta/rsa_private_ops"},
      {"TA request handling in-process, one thread / TA RSA private ops", "ta/direct_requests", "ta/rsa_private_ops"},
      {"pairings through a TA server on both cores / 2 x TA RSA private ops", "ta/pairings_two_cores",
       "ta/rsa_private_ops", Unit::ops_per_second, false, 2.0},
      {"PSI transitions, SQLite / bare durable commit (WAL, synchronous=FULL)", "ta/sqlite_transition",
       "ta/sqlite_durable_commit"},
      {"PSI transitions, PostgreSQL / bare durable commit (libpq)", "ta/postgres_transition",
       "ta/postgres_durable_commit", Unit::ops_per_second, false, 1.0, true}}}};

}  // namespace dcas::bench

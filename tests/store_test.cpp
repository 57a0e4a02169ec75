// The TA's pairing store: one contract, run against every backend (in memory, SQLite); then what
// only a durable store must do: survive reopening, seal the Ki, keep an append-only audit log that
// agrees with the state, and let exactly one of many racing requests bind a virgin SM.
#include <fmt/format.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include <atomic>
#include <functional>
#include <thread>

#include "common/files.h"
#include "protocol_support.h"
#include "store/postgres_store.h"
#include "store/sqlite_store.h"

namespace dcas {
namespace {

namespace fs = std::filesystem;
using namespace test;
using protocol::PairingState;
using protocol::Verdict;

const Bytes operator_key(32, 0x4b);

protocol::SmSecrets ki_of(std::uint8_t seed) {
  return {SecureBytes(16, seed), SecureBytes(16, static_cast<std::uint8_t>(seed + 1)),
          SecureBytes(16, static_cast<std::uint8_t>(seed + 2))};
}

fs::path temp_db(const std::string& name) {
  const auto dir = fs::temp_directory_path() / ("dcas-store-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto path = dir / (name + ".sqlite");
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path.string() + suffix);
  return path;
}

// ---- the contract, for every backend ----

class StoreContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "memory")
      store_ = std::make_unique<protocol::MemoryPairingStore>();
    else
      store_ = store::SqlitePairingStore::open(temp_db(test_name()), operator_key).value();
  }
  static std::string test_name() {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '-');  // "Test/sqlite"
    return name;
  }
  std::unique_ptr<protocol::PairingStore> store_;
  const SmId sm = SmId::from_hex("5300000000000001").value();
  const TpId tp = TpId::from_hex("5400000000000001").value(), other_tp = TpId::from_hex("5400000000000002").value();
};

TEST_P(StoreContract, RegistersDevicesOnce) {
  ASSERT_TRUE(store_->add_sm(sm, ki_of(1)));
  ASSERT_TRUE(store_->add_tp(tp));
  EXPECT_EQ(store_->add_sm(sm, ki_of(1)).error().code, Errc::already_exists);
  EXPECT_EQ(store_->add_tp(tp).error().code, Errc::already_exists);
  const auto record = store_->find_sm(sm).value().value();
  EXPECT_EQ(record.psi, PairingState::virgin);
  EXPECT_EQ(record.ki.ki3, ki_of(1).ki3);
  EXPECT_FALSE(store_->find_sm(SmId{}).value().has_value());
  EXPECT_EQ(store_->find_tp(tp).value()->psi, PairingState::virgin);
}

TEST_P(StoreContract, FollowsThePairingRules) {
  store_->add_sm(sm, ki_of(1)).value();
  store_->add_tp(tp).value();
  store_->add_tp(other_tp).value();
  EXPECT_EQ(store_->validate_and_record(sm, other_tp, t0, 600s).value().verdict, Verdict::bound_virgin_pair);
  EXPECT_EQ(store_->validate_and_record(sm, tp, t0, 600s).value().verdict, Verdict::refused_bound_elsewhere);
  EXPECT_EQ(store_->validate_and_record(sm, other_tp, t0 + 1s, 600s).value().verdict, Verdict::refused_active);
  EXPECT_EQ(store_->record_left(sm, t0 + 2s).value(), PairingState::paired_only);
  EXPECT_EQ(store_->find_tp(other_tp).value()->psi, PairingState::paired_only);
  EXPECT_EQ(store_->validate_and_record(sm, other_tp, t0 + 3s, 600s).value().verdict, Verdict::rejoined);
  EXPECT_EQ(store_->record_present(sm, t0 + 500s, 600s).value(), PairingState::auth_paired);
  EXPECT_EQ(store_->find_sm(sm).value()->presence_until, t0 + 1100s);
  EXPECT_EQ(store_->validate_and_record(sm, other_tp, t0 + 1101s, 600s).value().verdict, Verdict::rejoined_after_lapse);
  EXPECT_EQ(store_->validate_and_record(SmId{}, tp, t0, 600s).value().verdict, Verdict::refused_unknown);
  EXPECT_EQ(store_->record_left(SmId{}, t0).error().code, Errc::unknown_device);
  EXPECT_EQ(store_->find_tp(tp).value()->psi, PairingState::virgin);  // never touched by the refusals
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreContract, ::testing::Values("memory", "sqlite", "postgresql"),
                         [](const auto& test) { return test.param; });

// ---- SQLite: what a durable store owes ----

TEST(SqliteStore, StateSurvivesReopening) {
  const auto path = temp_db("reopen");
  const SmId sm = SmId::from_hex("5300000000000002").value();
  const TpId tp = TpId::from_hex("5400000000000002").value();
  {
    auto s = store::SqlitePairingStore::open(path, operator_key).value();
    s->add_sm(sm, ki_of(7)).value();
    s->add_tp(tp).value();
    ASSERT_EQ(s->validate_and_record(sm, tp, t0, 600s).value().verdict, Verdict::bound_virgin_pair);
  }
  auto s = store::SqlitePairingStore::open(path, operator_key).value();
  const auto record = s->find_sm(sm).value().value();
  EXPECT_EQ(record.psi, PairingState::auth_paired);
  EXPECT_EQ(record.bound_tp, tp);
  EXPECT_EQ(record.ki.ki2, ki_of(7).ki2);
  EXPECT_EQ(s->validate_and_record(sm, tp, t0 + 1s, 600s).value().verdict,
            Verdict::refused_active);  // never Virgin again
}

TEST(SqliteStore, KiAreSealedUnderTheOperatorKey) {
  const auto path = temp_db("sealed");
  const SmId sm = SmId::from_hex("5300000000000003").value();
  store::SqlitePairingStore::open(path, operator_key).value()->add_sm(sm, ki_of(0x61)).value();
  const auto file = read_text_file(path).value() + read_text_file(path.string() + "-wal").value_or("");
  EXPECT_EQ(file.find(std::string(16, 'a')), std::string::npos);  // 0x61 x 16 appears nowhere in clear
  Bytes wrong = operator_key;
  wrong[0] ^= 1;
  // Refused at open (the store's key check, spec §12), not only when a Ki is needed.
  EXPECT_EQ(store::SqlitePairingStore::open(path, wrong).error().code, Errc::store_key_invalid);
  EXPECT_EQ(store::SqlitePairingStore::open(path, Bytes(16)).error().code, Errc::bad_length);
}

// A store without the key check (schema 1, before it) gets one from its first SM's Ki: with the
// wrong key it is refused, with the right one the check is written and the store opens.
TEST(SqliteStore, AStoreWithoutAKeyCheckIsCheckedAgainstItsFirstSealedKi) {
  const auto path = temp_db("keycheck");
  const SmId sm = SmId::from_hex("5300000000000005").value();
  store::SqlitePairingStore::open(path, operator_key).value()->add_sm(sm, ki_of(0x62)).value();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "DELETE FROM store_key_check", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  Bytes wrong = operator_key;
  wrong[5] ^= 1;
  EXPECT_EQ(store::SqlitePairingStore::open(path, wrong).error().code, Errc::store_key_invalid);
  EXPECT_EQ(store::SqlitePairingStore::open(path, operator_key).value()->find_sm(sm).value()->ki.ki1, ki_of(0x62).ki1);
  EXPECT_EQ(store::SqlitePairingStore::open(path, wrong).error().code, Errc::store_key_invalid);  // now by the check
}

TEST(SqliteStore, TheAuditLogAgreesWithTheStateAndCannotBeRewritten) {
  const auto path = temp_db("audit");
  auto s = store::SqlitePairingStore::open(path, operator_key).value();
  const SmId sm = SmId::from_hex("5300000000000004").value();
  const TpId tp = TpId::from_hex("5400000000000004").value();
  s->add_sm(sm, ki_of(1)).value();
  s->add_tp(tp).value();
  s->validate_and_record(sm, tp, t0, 600s).value();
  s->record_left(sm, t0 + 1s).value();
  const auto log = s->audit_log().value();
  ASSERT_EQ(log.size(), 4u);
  EXPECT_EQ(log[0].action, "register_sm");
  EXPECT_EQ(log[2].action, "validate");
  EXPECT_EQ(log[2].detail, "virgin -> auth-paired (bound_virgin_pair)");
  EXPECT_EQ(log[3].action, "left");
  EXPECT_EQ(log[3].tp, tp.hex());
  EXPECT_EQ(s->find_sm(sm).value()->psi, PairingState::paired_only);
  // The schema refuses to edit history.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "UPDATE audit SET detail = 'forged'", nullptr, nullptr, nullptr), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "DELETE FROM audit", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_EQ(s->audit_log().value().size(), 4u);
}

TEST(SqliteStore, OnlyAnAuditedOperatorActionUnbinds) {
  const auto path = temp_db("unpair");
  auto s = store::SqlitePairingStore::open(path, operator_key).value();
  const SmId sm = SmId::from_hex("5300000000000006").value();
  const TpId tp = TpId::from_hex("5400000000000006").value(), other = TpId::from_hex("5400000000000007").value();
  s->add_sm(sm, ki_of(1)).value();
  s->add_tp(tp).value();
  s->add_tp(other).value();
  s->validate_and_record(sm, tp, t0, 600s).value();
  EXPECT_EQ(s->list_sms(PairingState::auth_paired).value().size(), 1u);
  EXPECT_EQ(s->count_sms().value(), (std::map<PairingState, std::size_t>{{PairingState::auth_paired, 1}}));
  EXPECT_EQ(s->unpair(sm, "", t0).error().code, Errc::invalid_argument);
  EXPECT_EQ(s->unpair(SmId{}, "x", t0).error().code, Errc::unknown_device);
  ASSERT_TRUE(s->unpair(sm, "box replaced under warranty", t0 + 1s));
  EXPECT_EQ(s->find_tp(tp).value()->psi, PairingState::virgin);
  EXPECT_FALSE(s->find_tp(tp).value()->bound_sm.has_value());
  EXPECT_EQ(s->validate_and_record(sm, other, t0 + 2s, 600s).value().verdict, Verdict::bound_virgin_pair);
  const auto log = s->audit_log().value();
  const auto unpair = std::find_if(log.begin(), log.end(), [](const auto& e) { return e.action == "unpair"; });
  ASSERT_NE(unpair, log.end());
  EXPECT_EQ(unpair->actor, "operator");
  EXPECT_EQ(unpair->detail, "auth-paired -> virgin: box replaced under warranty");
  EXPECT_EQ(s->operator_leave(sm, t0 + 3s).value(), PairingState::paired_only);
  EXPECT_EQ(s->audit_log().value().back().actor, "operator");
}

TEST(SqliteStore, RefusesASchemaFromTheFuture) {
  const auto path = temp_db("future");
  store::SqlitePairingStore::open(path, operator_key).value();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  EXPECT_EQ(store::SqlitePairingStore::open(path, operator_key).error().code, Errc::store_schema);
}

TEST(SqliteStore, FiftyRacingRequestsForOneVirginSmBindExactlyOnce) {
  const auto path = temp_db("race");
  const SmId sm = SmId::from_hex("5300000000000005").value();
  std::vector<TpId> tps;
  {
    auto s = store::SqlitePairingStore::open(path, operator_key).value();
    s->add_sm(sm, ki_of(1)).value();
    for (int i = 0; i < 50; ++i) {
      tps.push_back(TpId::from_hex(fmt::format("54000000000001{:02x}", i)).value());
      s->add_tp(tps.back()).value();
    }
  }
  // Each request on its own connection, as separate TA workers or processes would be.
  std::vector<std::thread> threads;
  std::vector<Verdict> verdicts(50);
  std::vector<std::string> failures(50);
  for (int i = 0; i < 50; ++i)
    threads.emplace_back([&, i] {
      auto s = store::SqlitePairingStore::open(path, operator_key);
      if (!s) return void(failures[i] = s.error().message());
      auto outcome = (*s)->validate_and_record(sm, tps[i], t0, 600s);
      if (!outcome) return void(failures[i] = outcome.error().message());
      verdicts[i] = outcome->verdict;
    });
  for (auto& t : threads) t.join();
  for (const auto& f : failures) EXPECT_TRUE(f.empty()) << f;
  EXPECT_EQ(std::count(verdicts.begin(), verdicts.end(), Verdict::bound_virgin_pair), 1);
  EXPECT_EQ(std::count(verdicts.begin(), verdicts.end(), Verdict::refused_bound_elsewhere), 49);
  auto s = store::SqlitePairingStore::open(path, operator_key).value();
  const auto winner = s->find_sm(sm).value()->bound_tp.value();
  int bound = 0;
  for (const auto& tp : tps) bound += s->find_tp(tp).value()->bound_sm.has_value();
  EXPECT_EQ(bound, 1);
  EXPECT_EQ(s->find_tp(winner).value()->bound_sm, sm);
  EXPECT_EQ(s->audit_log().value().size(), 1u + 50u + 50u);  // registrations, then one line per request
}

TEST(SqliteStore, TheProtocolRunsOnIt) {
  Deployment d;  // for its keys and certificates; its TA is replaced by one on SQLite
  auto sqlite = store::SqlitePairingStore::open(temp_db("protocol"), operator_key).value();
  protocol::TrustedAuthority ta({key("ta"), d.root, d.root}, *sqlite, d.ta_rng);
  ta.register_ap(d.ap_cert, t0).value();
  protocol::InProcessNetwork net(ta, d.ap);
  sqlite->add_sm(SmId::from_hex("5300000000000009").value(), ki_of(3)).value();
  sqlite->add_tp(TpId::from_hex("5400000000000009").value()).value();
  crypto::SeededRandom sm_rng(view("s")), tp_rng(view("t"));
  auto host = net.add_host(d.identity(Role::sm, "5300000000000009", "sm1"),
                           d.identity(Role::tp, "5400000000000009", "tp1"), sm_rng, tp_rng, t0)
                  .value();
  protocol::Output announce;
  announce.send(Role::sm, d.ap.security_announce(d.network_id, 1).value());
  net.run(*host, Role::ap, std::move(announce), t0);
  EXPECT_TRUE(d.established(*host));
  EXPECT_EQ(sqlite->find_sm(host->sm->id()).value()->psi, PairingState::auth_paired);
}

}  // namespace
}  // namespace dcas

namespace dcas {
namespace {

using namespace test;
using protocol::PairingState;
using protocol::Verdict;

// add_devices registers a batch in one transaction: all of it, audited, or nothing of it.
void expect_batch_registration_all_or_none(store::OperatorStore& s) {
  std::vector<store::NewDevice> batch;
  for (int i = 0; i < 50; ++i) {
    batch.push_back({Role::sm, SmId::from_hex(fmt::format("10ad0000000001{:02x}", i)).value().bytes, ki_of(1)});
    batch.push_back({Role::tp, TpId::from_hex(fmt::format("10ad0000000002{:02x}", i)).value().bytes, std::nullopt});
  }
  const auto audited = s.audit_log().value().size();
  ASSERT_TRUE(s.add_devices(batch));
  EXPECT_EQ(s.audit_log().value().size(), audited + 100);
  EXPECT_EQ(s.find_sm(SmId::from_hex("10ad000000000131").value()).value()->ki.ki2, ki_of(1).ki2);
  EXPECT_EQ(s.find_tp(TpId::from_hex("10ad000000000231").value()).value()->psi, PairingState::virgin);
  // One device already registered: none of the batch is.
  std::vector<store::NewDevice> again{{Role::tp, TpId::from_hex("10ad000000000300").value().bytes, std::nullopt},
                                      {Role::sm, SmId::from_hex("10ad000000000105").value().bytes, ki_of(2)}};
  EXPECT_EQ(s.add_devices(again).error().code, Errc::already_exists);
  EXPECT_FALSE(s.find_tp(TpId::from_hex("10ad000000000300").value()).value().has_value());
  EXPECT_EQ(s.find_sm(SmId::from_hex("10ad000000000105").value()).value()->ki.ki1, ki_of(1).ki1);
  // A batch it could not store whole is refused before anything is written.
  std::vector<store::NewDevice> bad{{Role::tp, TpId::from_hex("10ad000000000301").value().bytes, std::nullopt},
                                    {Role::sm, SmId::from_hex("10ad000000000199").value().bytes, std::nullopt}};
  EXPECT_EQ(s.add_devices(bad).error().code, Errc::invalid_argument);
  EXPECT_FALSE(s.find_tp(TpId::from_hex("10ad000000000301").value()).value().has_value());
  std::vector<store::NewDevice> ap{{Role::ap, SmId::from_hex("10ad000000000302").value().bytes, std::nullopt}};
  EXPECT_EQ(s.add_devices(ap).error().code, Errc::invalid_argument);
  EXPECT_EQ(s.audit_log().value().size(), audited + 100);
}

TEST(SqliteStore, RegistersABatchOfDevicesAllOrNone) {
  auto s = store::SqlitePairingStore::open(temp_db("batch"), operator_key).value();
  expect_batch_registration_all_or_none(*s);
}

TEST(PostgresStore, RegistersABatchOfDevicesAllOrNone) {
  const auto uri = fresh_postgres("batch");
  if (!uri) GTEST_SKIP() << "no PostgreSQL cluster: run through scripts/test.sh (DCAS_TEST_POSTGRES)";
  auto s = store::PostgresPairingStore::open(*uri, operator_key).value();
  expect_batch_registration_all_or_none(*s);
}

// Issue 15, item 3: the database restarts under a running TA. The call that meets the lost
// connection fails as store_unavailable (which a host tries again), and the next one reconnects.
// A cluster of its own, since the shared one serves the other tests meanwhile.
TEST(PostgresStore, ReconnectsAfterTheServerRestarts) {
  if (!fresh_postgres("restart_probe")) GTEST_SKIP() << "no PostgreSQL cluster: run through scripts/test.sh";
  const auto dir = fs::temp_directory_path() / fmt::format("dcas-pg-restart-{}", ::getpid());
  const std::string script = std::string(DCAS_SOURCE_DIR) + "/scripts/pg-test-cluster.sh";
  const std::string uri = output_of("bash " + script + " start " + dir.string() + " 55433");
  ASSERT_EQ(uri.rfind("postgresql://", 0), 0u) << uri;
  struct Stop {
    std::string command;
    ~Stop() {
      if (std::system(command.c_str()) != 0) std::cerr << "could not stop the cluster: " << command << '\n';
    }
  } stop{"bash " + script + " stop " + dir.string()};
  auto s = store::PostgresPairingStore::open(uri.substr(0, uri.find('\n')), operator_key).value();
  const SmId sm = SmId::from_hex("5300000000000009").value();
  ASSERT_TRUE(s->add_sm(sm, ki_of(3)));
  ASSERT_EQ(std::system(("bash " + script + " restart " + dir.string()).c_str()), 0);
  const TpId tp = TpId::from_hex("5400000000000009").value();
  auto lost = s->add_tp(tp);
  ASSERT_FALSE(lost);  // the call that met the dropped connection
  EXPECT_EQ(lost.error().code, Errc::store_unavailable) << lost.error().message();
  ASSERT_TRUE(s->add_tp(tp));  // the next one reconnects
  EXPECT_EQ(s->find_sm(sm).value()->ki.ki1, ki_of(3).ki1);
  EXPECT_EQ(s->validate_and_record(sm, tp, t0, 600s).value().verdict, Verdict::bound_virgin_pair);
}

TEST(PostgresStore, FiftyRacingRequestsOnSeparateConnectionsBindExactlyOnce) {
  const auto uri = fresh_postgres("race");
  if (!uri) GTEST_SKIP() << "no PostgreSQL cluster: run through scripts/test.sh (DCAS_TEST_POSTGRES)";
  const SmId sm = SmId::from_hex("5300000000000005").value();
  std::vector<TpId> tps;
  {
    auto s = store::PostgresPairingStore::open(*uri, operator_key).value();
    s->add_sm(sm, ki_of(1)).value();
    for (int i = 0; i < 50; ++i) {
      tps.push_back(TpId::from_hex(fmt::format("54000000000001{:02x}", i)).value());
      s->add_tp(tps.back()).value();
    }
  }
  std::vector<std::thread> threads;
  std::vector<Verdict> verdicts(50);
  std::vector<std::string> failures(50);
  for (int i = 0; i < 50; ++i)
    threads.emplace_back([&, i] {
      auto s = store::PostgresPairingStore::open(*uri, operator_key);
      if (!s) return void(failures[i] = s.error().message());
      auto outcome = (*s)->validate_and_record(sm, tps[i], t0, 600s);
      if (!outcome) return void(failures[i] = outcome.error().message());
      verdicts[i] = outcome->verdict;
    });
  for (auto& t : threads) t.join();
  for (const auto& f : failures) EXPECT_TRUE(f.empty()) << f;
  EXPECT_EQ(std::count(verdicts.begin(), verdicts.end(), Verdict::bound_virgin_pair), 1);
  auto s = store::PostgresPairingStore::open(*uri, operator_key).value();
  int bound = 0;
  for (const auto& tp : tps) bound += s->find_tp(tp).value()->bound_sm.has_value();
  EXPECT_EQ(bound, 1);
  EXPECT_EQ(s->audit_log().value().size(), 1u + 50u + 50u);
  // What --metrics reads: one SM, Auth/Paired (a state no SM is in is absent).
  EXPECT_EQ(s->count_sms().value(), (std::map<PairingState, std::size_t>{{PairingState::auth_paired, 1}}));
}

TEST(PostgresStore, StateSurvivesReconnectingAndTheAuditLogCannotBeRewritten) {
  const auto uri = fresh_postgres("reopen");
  if (!uri) GTEST_SKIP() << "no PostgreSQL cluster: run through scripts/test.sh (DCAS_TEST_POSTGRES)";
  const SmId sm = SmId::from_hex("5300000000000002").value();
  const TpId tp = TpId::from_hex("5400000000000002").value();
  {
    auto s = store::PostgresPairingStore::open(*uri, operator_key).value();
    s->add_sm(sm, ki_of(7)).value();
    s->add_tp(tp).value();
    ASSERT_EQ(s->validate_and_record(sm, tp, t0, 600s).value().verdict, Verdict::bound_virgin_pair);
  }
  auto s = store::PostgresPairingStore::open(*uri, operator_key).value();  // a second TA, or a restart
  EXPECT_EQ(s->find_sm(sm).value()->psi, PairingState::auth_paired);
  EXPECT_EQ(s->find_sm(sm).value()->ki.ki2, ki_of(7).ki2);
  EXPECT_EQ(s->validate_and_record(sm, tp, t0 + 1s, 600s).value().verdict, Verdict::refused_active);
  Bytes wrong = operator_key;
  wrong[3] ^= 1;
  EXPECT_EQ(store::PostgresPairingStore::open(*uri, wrong).error().code, Errc::store_key_invalid);  // at open
  PGconn* conn = PQconnectdb(uri->c_str());
  PGresult* r = PQexec(conn, "UPDATE audit SET detail = 'forged'");
  EXPECT_EQ(PQresultStatus(r), PGRES_FATAL_ERROR);
  PQclear(r);
  PQfinish(conn);
  EXPECT_EQ(s->audit_log().value().size(), 4u);  // two registrations, two validations
}

}  // namespace
}  // namespace dcas

namespace dcas {
namespace {

using namespace test;
using namespace std::chrono_literals;

// `ta check` while a TA works (issue 13): the check reads one snapshot, so a store that is
// consistent at every commit is never reported otherwise, whatever commits between its reads. Two
// connections on one database, as a TA process and the operator's command are.
void check_while_pairing(const std::function<std::unique_ptr<store::OperatorStore>()>& open) {
  constexpr int pairs = 6;
  auto ta = open();
  auto operator_view = open();
  auto sm = [](int i) { return SmId::from_hex(fmt::format("53000000000001{:02x}", i)).value(); };
  auto tp = [](int i) { return TpId::from_hex(fmt::format("54000000000001{:02x}", i)).value(); };
  for (int i = 0; i < pairs; ++i) {
    ta->add_sm(sm(i), ki_of(static_cast<std::uint8_t>(i))).value();
    ta->add_tp(tp(i)).value();
  }
  std::atomic<bool> done{false};
  std::atomic<int> transitions{0};
  std::jthread pairing([&] {
    auto now = t0;
    while (!done)
      for (int i = 0; i < pairs; ++i) {
        now += 1s;
        (void)ta->validate_and_record(sm(i), tp(i), now, 600s);
        (void)ta->record_left(sm(i), now);
        transitions += 2;
      }
  });
  // Checks until the TA has committed a few hundred transitions under them.
  int checks = 0, inconsistent = 0;
  std::string first;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  for (; (checks < 40 || transitions < 400) && std::chrono::steady_clock::now() < deadline; ++checks) {
    const auto problems = store::check_consistency(*operator_view).value();
    if (!problems.empty() && inconsistent++ == 0) first = problems.front();
  }
  done = true;
  EXPECT_GE(transitions.load(), 400) << "the TA did not work while the checks ran";
  EXPECT_EQ(inconsistent, 0) << "of " << checks << " checks; first: " << first;
}

TEST(ConsistencyCheck, ReadsOneSnapshotWhileATaCommitsOnSqlite) {
  const auto path = temp_db("snapshot");
  check_while_pairing([&] {
    return std::unique_ptr<store::OperatorStore>(store::SqlitePairingStore::open(path, operator_key).value());
  });
}

TEST(ConsistencyCheck, ReadsOneSnapshotWhileATaCommitsOnPostgres) {
  const auto uri = fresh_postgres("snapshot");
  if (!uri) GTEST_SKIP() << "no PostgreSQL cluster: run through scripts/test.sh (DCAS_TEST_POSTGRES)";
  check_while_pairing([&] {
    return std::unique_ptr<store::OperatorStore>(store::PostgresPairingStore::open(*uri, operator_key).value());
  });
}

}  // namespace
}  // namespace dcas

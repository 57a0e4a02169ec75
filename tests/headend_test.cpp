// The headend's database: versions only go up, an SM's CA key is drawn once and stays, keys are
// sealed under the operator key, download orders are taken once.
#include <unistd.h>

#include "common/files.h"
#include "headend/headend_store.h"
#include "store/operator_key.h"
#include "test_support.h"

namespace dcas {
namespace {

namespace fs = std::filesystem;

struct HeadendStoreTest : ::testing::Test {
  fs::path dir = fs::temp_directory_path() / ("dcas-headend-" + std::to_string(::getpid()) + "-" +
                                              ::testing::UnitTest::GetInstance()->current_test_info()->name());
  crypto::SeededRandom rng{view("headend")};
  const protocol::TimePoint now = std::chrono::system_clock::now();
  SmId sm = SmId::from_hex("5300000000000001").value();

  void SetUp() override {
    fs::remove_all(dir);
    ASSERT_TRUE(headend::init_headend_directory(dir, Bytes(8, 0x4e), headend::stand_in_client_code(1, 100), rng, now));
  }
  void TearDown() override { fs::remove_all(dir); }
  std::unique_ptr<headend::HeadendStore> open() { return headend::HeadendStore::open_directory(dir).value(); }
};

TEST_F(HeadendStoreTest, InitLeavesNetworkImageAndProductAndRefusesASecondInit) {
  auto store = open();
  EXPECT_EQ(store->network_id().value(), Bytes(8, 0x4e));
  EXPECT_EQ(store->current_image().value()->version, 1u);
  ASSERT_EQ(store->products().value().size(), 1u);
  EXPECT_EQ(store->products().value()[0].name, "basic");
  EXPECT_EQ((fs::status(dir / "store.key").permissions() & fs::perms::group_all), fs::perms::none);
  EXPECT_EQ((fs::status(dir / "headend.sqlite").permissions() & fs::perms::others_all), fs::perms::none);
  EXPECT_EQ(headend::init_headend_directory(dir, Bytes(8, 1), {}, rng, now).error().code, Errc::io_error);
}

TEST_F(HeadendStoreTest, ImageVersionsOnlyGoUp) {
  auto store = open();
  EXPECT_EQ(store->publish_image(1, Bytes(10, 1), now).error().code, Errc::image_downgrade);  // 1 is installed
  EXPECT_EQ(store->publish_image(0, Bytes(10, 1), now).error().code, Errc::invalid_argument);
  ASSERT_TRUE(store->publish_image(5, Bytes(10, 5), now));
  EXPECT_EQ(store->publish_image(4, Bytes(10, 4), now).error().code, Errc::image_downgrade);
  auto image = store->current_image().value();
  EXPECT_EQ(image->version, 5u);
  EXPECT_EQ(image->code, Bytes(10, 5));
  EXPECT_EQ(headend::stand_in_client_code(5, 3000), headend::stand_in_client_code(5, 3000));
  EXPECT_NE(headend::stand_in_client_code(5, 3000), headend::stand_in_client_code(6, 3000));
}

TEST_F(HeadendStoreTest, AnSmsCaKeyIsDrawnOnceAndSealed) {
  auto store = open();
  EXPECT_FALSE(store->find_ca_key(sm).value());
  const auto first = store->ca_key(sm, rng).value();
  EXPECT_EQ(first.size(), 16u);
  EXPECT_EQ(store->ca_key(sm, rng).value(), first);
  EXPECT_NE(store->ca_key(SmId::from_hex("5300000000000002").value(), rng).value(), first);
  // The database holds it sealed: another operator key cannot open it.
  store.reset();
  auto other = headend::HeadendStore::open(dir / "headend.sqlite", Bytes(32, 0x77)).value();
  EXPECT_EQ(other->find_ca_key(sm).error().code, Errc::store_key_invalid);
  EXPECT_EQ(other->product_key(1).error().code, Errc::store_key_invalid);
}

// Rekeying (docs/spec.md §15.4): the next epoch's key waits until a broadcast switches to it; the
// epoch only goes up, and every key stays sealed under the operator key.
TEST_F(HeadendStoreTest, AProductKeyHasEpochsThatOnlyGoUp) {
  auto store = open();
  const auto first = store->product_keys(1).value();
  EXPECT_EQ(first.current.epoch, 1u);
  EXPECT_FALSE(first.next.has_value());
  const auto next = store->rekey_product(1, rng, std::chrono::system_clock::now()).value();
  EXPECT_EQ(next.epoch, 2u);
  EXPECT_NE(next.key, first.current.key);
  // Another unsubscribe before any broadcast sent it: the same pending key (no one has it yet).
  EXPECT_EQ(store->rekey_product(1, rng, std::chrono::system_clock::now()).value().key, next.key);
  auto keys = store->product_keys(1).value();
  EXPECT_EQ(keys.current.key, first.current.key);
  ASSERT_TRUE(keys.next.has_value());
  EXPECT_EQ(keys.next->key, next.key);
  // Once a broadcast sent it (one too short to switch, or one still running), whoever was subscribed
  // then may hold it: an unsubscribe after that makes a key of a new epoch, which the next broadcast
  // switches to directly.
  ASSERT_TRUE(store->mark_aired(1, 2, std::chrono::system_clock::now()));
  const auto after_air = store->rekey_product(1, rng, std::chrono::system_clock::now()).value();
  EXPECT_EQ(after_air.epoch, 3u);
  EXPECT_NE(after_air.key, next.key);
  EXPECT_EQ(store->product_keys(1).value().next->epoch, 3u);
  EXPECT_EQ(store->product_keys(1).value().current.epoch, 1u);
  ASSERT_TRUE(store->complete_rekey(1, 2));
  keys = store->product_keys(1).value();
  EXPECT_EQ(keys.current.epoch, 2u);
  EXPECT_EQ(keys.current.key, next.key);
  EXPECT_EQ(keys.next->epoch, 3u);           // still pending, not yet sent
  ASSERT_TRUE(store->complete_rekey(1, 1));  // an older switch recorded late changes nothing
  EXPECT_EQ(store->product_keys(1).value().current.epoch, 2u);
  EXPECT_EQ(store->products().value().at(0).key_epoch, 2u);
  EXPECT_EQ(store->rekey_product(1, rng, std::chrono::system_clock::now()).value().epoch, 3u);
  EXPECT_EQ(store->rekey_product(42, rng, std::chrono::system_clock::now()).error().code, Errc::not_found);
  store.reset();
  auto other = headend::HeadendStore::open(dir / "headend.sqlite", Bytes(32, 0x77)).value();
  EXPECT_EQ(other->product_keys(1).error().code, Errc::store_key_invalid);
}

TEST_F(HeadendStoreTest, SubscriptionsNeedAProductAndDownloadOrdersAreTakenOnce) {
  auto store = open();
  EXPECT_EQ(store->subscribe(sm, 9, 100).error().code, Errc::not_found);
  ASSERT_TRUE(store->add_product(9, "sports", rng));
  EXPECT_EQ(store->add_product(9, "again", rng).error().code, Errc::already_exists);
  EXPECT_NE(store->product_key(9).value(), store->product_key(1).value());
  ASSERT_TRUE(store->subscribe(sm, 9, 100));
  ASSERT_TRUE(store->subscribe(sm, 9, 200));  // replaced, not added
  auto subs = store->subscriptions().value();
  ASSERT_EQ(subs.size(), 1u);
  EXPECT_EQ(subs[0].expires_at, 200u);
  EXPECT_TRUE(store->unsubscribe(sm, 9).value());
  EXPECT_FALSE(store->unsubscribe(sm, 9).value());

  ASSERT_TRUE(store->order_download(sm, now));
  ASSERT_TRUE(store->order_download(std::nullopt, now));
  auto orders = store->take_download_orders().value();
  ASSERT_EQ(orders.size(), 2u);
  EXPECT_EQ(orders[0], sm);
  EXPECT_FALSE(orders[1]);
  EXPECT_TRUE(store->take_download_orders().value().empty());
}

}  // namespace
}  // namespace dcas

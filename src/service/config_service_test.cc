// The configuration service on the SQLite store on a temp file: after each write, the snapshot it
// changed in place is the one a load of the whole configuration from the store makes. And two
// nodes on one PostgreSQL database (the ctest fixture `postgres`) writing at once: each ends
// with every object either wrote.
#include "service/config_service.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/json.hpp>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "config/codec.h"
#include "store/pg_test_schema.h"

namespace service {
namespace {

namespace json = boost::json;

template <typename Map>
std::vector<std::string> Encoded(const Map& objects) {
  std::vector<std::string> out;
  for (const auto& [id, obj] : objects) out.push_back(json::serialize(config::Encode(obj)));
  return out;
}

template <typename Map>
std::vector<config::Id> Ids(const Map& objects) {
  std::vector<config::Id> out;
  for (const auto& [id, obj] : objects) out.push_back(id);
  return out;
}

template <typename Groups>
std::map<config::Id, std::vector<config::Id>> GroupIds(const Groups& by_campaign) {
  std::map<config::Id, std::vector<config::Id>> out;
  for (const auto& [campaign, groups] : by_campaign) {
    for (const auto* g : groups) out[campaign].push_back(g->id);
  }
  return out;
}

void ExpectSame(const config::Snapshot& a, const config::Snapshot& b) {
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(Encoded(a.accounts), Encoded(b.accounts));
  EXPECT_EQ(a.api_keys_by_hash.size(), b.api_keys_by_hash.size());
  EXPECT_EQ(Encoded(a.publishers), Encoded(b.publishers));
  EXPECT_EQ(Encoded(a.buyers), Encoded(b.buyers));
  EXPECT_EQ(Encoded(a.campaigns), Encoded(b.campaigns));
  EXPECT_EQ(Encoded(a.numbers), Encoded(b.numbers));
  EXPECT_EQ(Encoded(a.conversion_groups), Encoded(b.conversion_groups));
  EXPECT_EQ(Encoded(a.webhook_groups), Encoded(b.webhook_groups));
  EXPECT_EQ(Encoded(a.publisher_keys), Encoded(b.publisher_keys));
  EXPECT_EQ(a.number_by_e164, b.number_by_e164);
  EXPECT_EQ(a.publisher_key_by_hash, b.publisher_key_by_hash);
  EXPECT_EQ(GroupIds(a.conversion_groups_by_campaign), GroupIds(b.conversion_groups_by_campaign));
  EXPECT_EQ(GroupIds(a.webhook_groups_by_campaign), GroupIds(b.webhook_groups_by_campaign));
  ASSERT_EQ(a.webhook_signers.size(), b.webhook_signers.size());
  for (const auto& [id, signers] : a.webhook_signers) {
    ASSERT_EQ(b.webhook_signers.count(id), 1u) << id;
    const auto& other = b.webhook_signers.at(id);
    EXPECT_EQ(signers.current != nullptr, other.current != nullptr) << id;
    EXPECT_EQ(signers.previous != nullptr, other.previous != nullptr) << id;
  }
}

class ConfigServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/callpost_config_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto s = store::OpenSqlite(store::SqliteOptions{dir_ + "/callpost.db"});
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
    config_ = std::make_unique<ConfigService>(*store_, clock_);
    ASSERT_TRUE(config_->Load());
    auto a = config_->CreateAccount("acme");
    ASSERT_TRUE(a) << a.error().message;
    account_ = a->account.id;
  }
  void TearDown() override {
    config_.reset();
    if (store_) store_->Close();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // The snapshot a fresh load from the store makes, with every derived index built again from
  // the objects alone (Index), not as Put kept them.
  config::SnapshotPtr Loaded() {
    ConfigService fresh(*store_, clock_);
    EXPECT_TRUE(fresh.Load());
    std::shared_ptr<config::Snapshot> rebuilt = fresh.snapshot()->Clone();
    rebuilt->Index();
    return rebuilt;
  }

  config::Id Create(Kind kind, const std::string& body, config::Id parent = 0) {
    auto r = config_->Create(kind, account_, parent, json::parse(body).as_object());
    EXPECT_TRUE(r) << body << ": " << r.error().message;
    return r ? r->at("id").as_int64() : 0;
  }

  core::FakeClock clock_{1'764'340'796'000};
  std::string dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ConfigService> config_;
  config::Id account_ = 0;
};

TEST_F(ConfigServiceTest, EachWriteLeavesTheSnapshotALoadWouldMake) {
  const auto check = [&](const std::string& step) {
    SCOPED_TRACE(step);
    ExpectSame(*config_->snapshot(), *Loaded());
  };
  const config::Id publisher = Create(Kind::kPublisher, R"({"name":"P"})");
  check("publisher");
  const config::Id buyer = Create(Kind::kBuyer, R"({"name":"B","destination":"+15551234567"})");
  check("buyer");
  const config::Id campaign = Create(
      Kind::kCampaign, R"({"name":"C","buyers":[{"buyer_id":)" + std::to_string(buyer) + "}]}");
  check("campaign");
  const config::Id number =
      Create(Kind::kNumber, R"({"number":"+18005550100","campaign_id":)" +
                                std::to_string(campaign) + R"(,"tags":{"traffic":"search"}})");
  check("number");
  const config::Id sales = Create(
      Kind::kConversionGroup,
      R"({"name":"sales","type":"postback_value","value_param":"amt","payout_modifier":"*0.8"})",
      campaign);
  check("conversion group");
  // A group that changes type keeps no field of the type it left: not in the database, and
  // not in the snapshot either (a later load would otherwise disagree with it).
  for (const char* patch :
       {R"({"type":"duration","seconds":90,"revenue":"20.00","payout":"10.00"})",
        R"({"type":"postback_value"})"}) {
    auto changed =
        config_->Update(Kind::kConversionGroup, account_, sales, json::parse(patch).as_object());
    ASSERT_TRUE(changed) << patch << ": " << changed.error().message;
    check(patch);
  }
  const config::Id hook = Create(
      Kind::kWebhookGroup,
      R"({"name":"h","trigger":"ended","sign":true,"requests":[{"method":"POST","url":"https://buyer.example/h"}]})",
      campaign);
  check("webhook group");
  auto key = config_->CreatePublisherKey(account_, publisher, json::object{{"name", "k"}});
  ASSERT_TRUE(key) << key.error().message;
  check("publisher key");

  auto updated = config_->Update(
      Kind::kNumber, account_, number,
      json::parse(R"({"publisher_id":)" + std::to_string(publisher) + R"(,"tags":{"a":"b"}})")
          .as_object());
  ASSERT_TRUE(updated) << updated.error().message;
  check("number updated");
  ASSERT_TRUE(config_->RotateWebhookSecret(account_, hook, 3600));
  check("secret rotated");
  EXPECT_NE(config_->snapshot()->webhook_signers.at(hook).previous, nullptr);

  // Another process (or node) writes: the next write here finds the store a version ahead
  // and loads everything, its own change and the other's.
  ConfigService other(*store_, clock_);
  ASSERT_TRUE(other.Load());
  const config::Id second = Create(Kind::kPublisher, R"({"name":"P2"})");
  auto elsewhere =
      other.Create(Kind::kPublisher, account_, 0, json::parse(R"({"name":"P3"})").as_object());
  ASSERT_TRUE(elsewhere) << elsewhere.error().message;
  const config::Id third = Create(Kind::kBuyer, R"({"name":"B2","destination":"+15551234568"})");
  check("after another process's write");
  EXPECT_EQ(config_->snapshot()->publishers.count(elsewhere->at("id").as_int64()), 1u);
  EXPECT_EQ(config_->snapshot()->buyers.count(third), 1u);

  ASSERT_TRUE(config_->Delete(Kind::kWebhookGroup, account_, hook));
  check("webhook group deleted");
  ASSERT_TRUE(config_->Delete(Kind::kNumber, account_, number));
  check("number deleted");
  ASSERT_TRUE(config_->Delete(Kind::kCampaign, account_, campaign));  // and its groups
  check("campaign deleted");
  EXPECT_TRUE(config_->snapshot()->conversion_groups.empty());
  ASSERT_TRUE(config_->Delete(Kind::kPublisher, account_, publisher));  // and its keys
  check("publisher deleted");
  EXPECT_TRUE(config_->snapshot()->publisher_keys.empty());
  ASSERT_TRUE(config_->Delete(Kind::kPublisher, account_, second));
  check("last");
}

// Two nodes behind a load balancer create publishers at the same moment. A node applies its own
// write to its snapshot in place only when the snapshot was the version its write started from;
// were that version read before another node's commit landed, the node would take the other's
// change for nothing, label its snapshot with the newer version and never load what it missed
// (its reloads compare versions). So after the writes and one reload, each node holds all of them.
TEST(ConfigServicePg, TwoNodesWritingAtOnceEachEndWithEveryObject) {
  store::PgTestSchema pg(CALLPOST_TEST_PG_STATE);
  ASSERT_FALSE(pg.url().empty()) << pg.error();
  core::FakeClock clock{1'764'340'796'000};
  std::vector<std::unique_ptr<store::Store>> stores;
  std::vector<std::unique_ptr<ConfigService>> nodes;
  for (int i = 0; i < 2; ++i) {
    store::PostgresOptions o;
    o.url = pg.url();
    auto s = store::OpenPostgres(o);
    ASSERT_TRUE(s) << s.error().message;
    stores.push_back(std::move(*s));
    nodes.push_back(std::make_unique<ConfigService>(*stores.back(), clock));
    ASSERT_TRUE(nodes.back()->Load());
  }
  auto account = nodes[0]->CreateAccount("acme");
  ASSERT_TRUE(account) << account.error().message;
  const config::Id account_id = account->account.id;
  ASSERT_TRUE(nodes[1]->ReloadIfChanged());

  // Rounds of writes at once, each ended by a check: a write a node missed is healed by its next
  // write that finds the store ahead, so only misses near the end of a round are seen.
  constexpr int kRounds = 25;
  constexpr int kEach = 10;  // per node and round
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::vector<std::thread> writers;
    std::vector<int> failed(nodes.size(), 0);
    for (size_t n = 0; n < nodes.size(); ++n) {
      writers.emplace_back([&, n] {
        for (int i = 0; i < kEach; ++i) {
          const json::object body{{"name", "P" + std::to_string(round) + "-" + std::to_string(n) +
                                               "-" + std::to_string(i)}};
          if (!nodes[n]->Create(Kind::kPublisher, account_id, 0, body)) ++failed[n];
        }
      });
    }
    for (auto& t : writers) t.join();
    ASSERT_EQ(failed, std::vector<int>(nodes.size(), 0));

    ConfigService fresh(*stores[0], clock);
    ASSERT_TRUE(fresh.Load());
    ASSERT_EQ(fresh.snapshot()->publishers.size(), size_t(2 * kEach * (round + 1)));
    for (size_t n = 0; n < nodes.size(); ++n) {
      SCOPED_TRACE("node " + std::to_string(n));
      ASSERT_TRUE(nodes[n]->ReloadIfChanged());
      EXPECT_EQ(nodes[n]->snapshot()->version, fresh.snapshot()->version);
      ASSERT_EQ(Ids(nodes[n]->snapshot()->publishers), Ids(fresh.snapshot()->publishers));
    }
  }
  nodes.clear();
  for (auto& s : stores) s->Close();
}

}  // namespace
}  // namespace service

// The store contract: one suite that runs unchanged against the SQLite store and the
// PostgreSQL store (a server the tests start: tests/pg/pg.sh, the ctest fixture `postgres`).
// Each test gets a fresh database: a temporary SQLite file, or a schema of its own.
#include "store/store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "store/pg_test_schema.h"
#include "store/rows.h"
#include "store/schema.h"
#include "store/sqlite_db.h"
#include "store/test_system_calls.h"

namespace store {
namespace {

using engine::Call;
using engine::Outcome;

std::string RandomName(const char* prefix) {
  std::random_device rd;
  return prefix + std::to_string(rd()) + std::to_string(rd());
}

// Inserts a call with two tags inside a unit of work; `c` gets its id.
core::Result<void> SaveNewCall(Writer& w, Call& c) {
  c.tags = {engine::Tag{"system_campaign_id", "7", engine::TagSource::kSystem, c.started_at},
            engine::Tag{"zip", "10001", engine::TagSource::kEdge, c.started_at}};
  Outcome out;
  out.changed = out.call_changed = true;
  out.new_tags = c.tags;
  out.effects = {engine::Effect{"started", c.started_at}};
  return w.SaveCall(c, out);
}

core::Result<void> NewCallIn(Writer& w, Id account_id, const std::string& uuid) {
  Call c;
  c.uuid = uuid;
  c.account_id = account_id;
  c.campaign_id = 7;
  c.started_at = 1000;
  return SaveNewCall(w, c);
}

class StoreContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      dir_ = std::filesystem::temp_directory_path() / RandomName("callpost-store-");
      std::filesystem::create_directories(dir_);
    } else {
      pg_ = std::make_unique<PgTestSchema>(CALLPOST_TEST_PG_STATE);
      ASSERT_FALSE(pg_->url().empty()) << pg_->error();
    }
    auto s = Open();
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
  }

  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
    pg_.reset();
  }

  // Another store on the same database (another node, or the same one after a restart), with
  // room for `max_queue` units waiting for a writer.
  core::Result<std::unique_ptr<Store>> Open(size_t max_queue = 100000) {
    if (GetParam() == "sqlite") {
      SqliteOptions o{(dir_ / "callpost.db").string()};
      o.max_queue = max_queue;
      return OpenSqlite(o);
    }
    PostgresOptions o;
    o.url = pg_->url();
    o.writers = kPgWriters;
    o.read_connections = 2;
    o.max_queue = max_queue;
    return OpenPostgres(o);
  }
  static constexpr int kPgWriters = 4;

  Store& s() { return *store_; }

  // Runs `fn` as one unit of work and expects it to commit.
  void Write(const std::function<core::Result<void>(Writer&)>& fn) {
    auto r = s().WriteSync(fn);
    ASSERT_TRUE(r) << r.error().message;
  }

  template <typename T>
  T Read(const std::function<core::Result<T>(Reader&)>& fn) {
    T out{};
    auto r = s().Read([&](Reader& rd) -> core::Result<void> {
      auto v = fn(rd);
      if (!v) return std::move(v).error();
      out = std::move(*v);
      return {};
    });
    EXPECT_TRUE(r) << r.error().message;
    return out;
  }

  Id NewAccount(const std::string& name = "acme") {
    Id id = 0;
    Write([&](Writer& w) -> core::Result<void> {
      config::Account a;
      a.name = name;
      a.created_at = 1000;
      auto r = w.InsertAccount(a);
      if (!r) return std::move(r).error();
      id = *r;
      return {};
    });
    return id;
  }

  // Inserts a call with two tags; returns it with its id.
  Call NewCall(Id account_id, const std::string& uuid, core::Millis started_at,
               const std::string& caller = "+15551230000", Id campaign_id = 7) {
    Call c;
    c.uuid = uuid;
    c.account_id = account_id;
    c.campaign_id = campaign_id;
    c.caller_number = caller;
    c.number = "+18005550100";
    c.started_at = started_at;
    Write([&](Writer& w) { return SaveNewCall(w, c); });
    return c;
  }

  std::filesystem::path dir_;
  std::unique_ptr<PgTestSchema> pg_;
  std::unique_ptr<Store> store_;
};

std::string Uuid(int i) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012d", i);
  return buf;
}

TEST_P(StoreContract, AccountsKeysAndConfigurationBumpTheVersion) {
  const int64_t v0 = Read<int64_t>([](Reader& r) { return r.ConfigVersion(); });
  const Id a = NewAccount("first");
  const Id b = NewAccount("second");
  EXPECT_NE(a, b);
  Id key_id = 0, obj = 0;
  Write([&](Writer& w) -> core::Result<void> {
    auto k = w.InsertApiKey(config::ApiKey{0, a, "default", "cpk_abc", "hash-1", 5});
    if (!k) return std::move(k).error();
    key_id = *k;
    auto o = w.InsertConfig(ConfigRow{0, a, "number", 0, R"({"number":"+18005550100"})", 1, 1});
    if (!o) return std::move(o).error();
    obj = *o;
    return {};
  });
  EXPECT_GT(Read<int64_t>([](Reader& r) { return r.ConfigVersion(); }), v0);
  auto accounts = Read<std::vector<config::Account>>([](Reader& r) { return r.LoadAccounts(); });
  ASSERT_EQ(accounts.size(), 2u);
  EXPECT_EQ(accounts[0].name, "first");
  EXPECT_TRUE(accounts[0].carry_over_postback_tags);
  auto keys = Read<std::vector<config::ApiKey>>([](Reader& r) { return r.LoadApiKeys(); });
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].hash, "hash-1");
  EXPECT_EQ(keys[0].id, key_id);

  // A number is unique across accounts: the second insert conflicts and changes nothing.
  auto dup = s().WriteSync([&](Writer& w) {
    return w.InsertConfig(ConfigRow{0, b, "number", 0, R"({"number":"+18005550100"})", 1, 1})
                   .has_value()
               ? core::Result<void>()
               : core::Result<void>(core::MakeError(core::ErrorCode::kConflict, "dup"));
  });
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, core::ErrorCode::kConflict);

  // Another account's object is not found, and nothing changes.
  auto wrong = s().WriteSync([&](Writer& w) {
    return w.UpdateConfig(ConfigRow{obj, b, "", 0, "{}", 0, 2});
  });
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, core::ErrorCode::kNotFound);
  Write([&](Writer& w) {
    return w.UpdateConfig(ConfigRow{obj, a, "", 0, R"({"number":"+18005550101"})", 0, 2});
  });
  auto rows = Read<std::vector<ConfigRow>>([](Reader& r) { return r.LoadConfigRows(); });
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].doc, R"({"number":"+18005550101"})");
  EXPECT_EQ(rows[0].updated_at, 2);
  Write([&](Writer& w) { return w.DeleteConfig(a, obj); });
  EXPECT_TRUE(Read<std::vector<ConfigRow>>([](Reader& r) { return r.LoadConfigRows(); }).empty());
  Write([&](Writer& w) { return w.DeleteApiKey(a, key_id); });
  EXPECT_TRUE(Read<std::vector<config::ApiKey>>([](Reader& r) { return r.LoadApiKeys(); }).empty());
}

TEST_P(StoreContract, ACallRoundTripsWithEveryField) {
  const Id a = NewAccount();
  Call c;
  c.uuid = Uuid(1);
  c.account_id = a;
  c.campaign_id = 3;
  c.publisher_id = 4;
  c.buyer_id = 5;
  c.number_id = 6;
  c.number = "+18005550100";
  c.caller_number = "+15551230000";
  c.edge_call_id = "sip-call-id@edge";
  c.repeat = true;
  c.status = engine::Status::kEnded;
  c.started_at = 1000;
  c.routed_at = 1100;
  c.answered_at = 1200;
  c.ended_at = 61200;
  c.duration_seconds = 60;
  c.hung_up_by = "caller";
  c.conversion.state = engine::ConversionState::kAwaitingPostback;
  c.conversion.group_id = 9;
  c.conversion.revenue = core::Money::FromCents(1234);
  c.conversion.payout = core::Money::FromCents(987);
  c.conversion.late = true;
  c.conversion.deadline_at = 661200;
  c.conversion.decided_at = 700000;
  c.early_postbacks = {
      engine::Params{{"sale", ""}, {"value", "12.34"}, {"bin", std::string("a\0b", 3)}},
      engine::Params{{"value", "50.00"}}};
  c.tags = {engine::Tag{"zip", "10001", engine::TagSource::kEdge, 1000},
            engine::Tag{"lead", "yes", engine::TagSource::kPublisher, 1001, false, 44},
            engine::Tag{"intent", "buy", engine::TagSource::kPostback, 1002, true}};
  Outcome out;
  out.changed = out.call_changed = true;
  out.new_tags = c.tags;
  Write([&](Writer& w) { return w.SaveCall(c, out); });
  ASSERT_GT(c.id, 0);

  auto found = Read<std::optional<Call>>([&](Reader& r) { return r.FindCall(c.uuid); });
  ASSERT_TRUE(found.has_value());
  const Call& f = *found;
  EXPECT_EQ(f.id, c.id);
  EXPECT_EQ(f.publisher_id, 4);
  EXPECT_EQ(f.buyer_id, 5);
  EXPECT_EQ(f.number_id, 6);
  EXPECT_EQ(f.edge_call_id, "sip-call-id@edge");
  EXPECT_TRUE(f.repeat);
  EXPECT_EQ(f.status, engine::Status::kEnded);
  EXPECT_EQ(f.routed_at, 1100);
  EXPECT_EQ(f.answered_at, 1200);
  EXPECT_EQ(f.ended_at, 61200);
  EXPECT_EQ(f.duration_seconds, 60);
  EXPECT_EQ(f.hung_up_by, "caller");
  EXPECT_EQ(f.conversion.state, engine::ConversionState::kAwaitingPostback);
  EXPECT_EQ(f.conversion.group_id, 9);
  EXPECT_EQ(f.conversion.revenue->cents(), 1234);
  EXPECT_EQ(f.conversion.payout->cents(), 987);
  EXPECT_TRUE(f.conversion.late);
  EXPECT_EQ(f.conversion.deadline_at, 661200);
  EXPECT_EQ(f.conversion.decided_at, 700000);
  EXPECT_EQ(f.early_postbacks, c.early_postbacks);
  ASSERT_EQ(f.tags.size(), 3u);
  EXPECT_EQ(f.tags[1].key, "lead");
  EXPECT_EQ(f.tags[1].source, engine::TagSource::kPublisher);
  EXPECT_EQ(f.tags[1].publisher_id, 44);
  EXPECT_TRUE(f.tags[2].carried);
  EXPECT_EQ(f.tags[2].at, 1002);

  auto by_edge = Read<std::optional<Call>>(
      [&](Reader& r) { return r.FindCallByEdgeId(a, "sip-call-id@edge"); });
  ASSERT_TRUE(by_edge.has_value());
  EXPECT_EQ(by_edge->uuid, c.uuid);
  EXPECT_FALSE(Read<std::optional<Call>>([&](Reader& r) {
                 return r.FindCallByEdgeId(a + 1, "sip-call-id@edge");
               }).has_value());
  EXPECT_FALSE(
      Read<std::optional<Call>>([&](Reader& r) { return r.FindCall(Uuid(2)); }).has_value());

  // An update with only new tags appends them after the others; the row is kept.
  Call again = *found;
  Outcome more;
  more.changed = true;
  engine::Tag extra{"note", R"(say "hi" \ {bye}, NULL)", engine::TagSource::kPostback, 2000};
  again.tags.push_back(extra);
  more.new_tags = {extra};
  Write([&](Writer& w) { return w.SaveCall(again, more); });
  auto after = Read<std::optional<Call>>([&](Reader& r) { return r.FindCall(c.uuid); });
  ASSERT_EQ(after->tags.size(), 4u);
  EXPECT_EQ(after->tags[3].key, "note");
  EXPECT_EQ(after->tags[3].value, R"(say "hi" \ {bye}, NULL)");
  EXPECT_EQ(after->conversion.revenue->cents(), 1234);
}

// A PostgreSQL URL whose password libpq cannot read, or reads in part as the host or port, never
// puts the password in the error: libpq's own message quotes what it could not read.
TEST(PgUrl, ConnectingErrorsNeverCarryThePassword) {
  for (const char* url : {"postgresql://cp:Tr0ub4dor%&3xyz@127.0.0.1:9/cp",
                          "postgresql://cp:hunter2/secretpart@127.0.0.1:9/cp",
                          "postgresql://cp:Pa@ssXYZ@127.0.0.1:9/cp"}) {
    auto conn = PgConn::Open(url);
    ASSERT_FALSE(conn.has_value()) << url;
    const std::string& msg = conn.error().message;
    EXPECT_EQ(msg.rfind("cannot connect to PostgreSQL: ", 0), 0u) << msg;
    for (const char* secret : {"Tr0ub4dor", "hunter2", "secretpart", "ssXYZ"}) {
      EXPECT_EQ(msg.find(secret), std::string::npos) << url << " → " << msg;
    }
  }
  EXPECT_EQ(RedactUrlPassword("host \"ssXYZ@127.0.0.1\"", "postgresql://cp:Pa@ssXYZ@h/cp"),
            "host \"[redacted]@127.0.0.1\"");
  EXPECT_EQ(RedactUrlPassword("no password here", "postgresql://cp@h/cp"), "no password here");
}

// The postbacks a call keeps while its group is not known: a blob written when a call kept at
// most one reads as that one; several read back in their order.
TEST(EarlyPostbacksBlob, OneWrittenBeforeCallsKeptSeveralReadsAsOne) {
  std::string blob;
  for (std::string s : {"value", "12.50", "sale", ""}) {
    const auto n = static_cast<uint32_t>(s.size());
    blob.append(reinterpret_cast<const char*>(&n), 4).append(s);
  }
  using Kept = std::vector<engine::Params>;
  EXPECT_EQ(DecodeEarlyPostbacks(blob), (Kept{{{"value", "12.50"}, {"sale", ""}}}));
  const Kept several = {{{"sale", ""}}, {{"value", "50.00"}, {"note", ""}}, {{"a", "1"}}};
  EXPECT_EQ(DecodeEarlyPostbacks(EncodeEarlyPostbacks(several)), several);
  EXPECT_TRUE(DecodeEarlyPostbacks("").empty());
}

TEST_P(StoreContract, ListsAndLookupsOfCalls) {
  const Id a = NewAccount();
  const Id other = NewAccount("other");
  for (int i = 1; i <= 5; ++i)
    NewCall(a, Uuid(i), i * 1000, i % 2 ? "+15550000001" : "+15550000002", i <= 3 ? 7 : 8);
  NewCall(other, Uuid(99), 500);
  // Call 2 answered by buyer 5, call 3 converted and ended.
  Write([&](Writer& w) -> core::Result<void> {
    for (int i : {2, 3}) {
      auto f = w.FindCall(Uuid(i));
      if (!f) return std::move(f).error();
      Call c = **f;
      c.buyer_id = 5;
      c.status = i == 2 ? engine::Status::kAnswered : engine::Status::kEnded;
      if (i == 3) {
        c.ended_at = 9000;
        c.conversion.state = engine::ConversionState::kConverted;
      }
      Outcome o;
      o.changed = o.call_changed = true;
      if (auto s = w.SaveCall(c, o); !s) return s;
    }
    return {};
  });
  auto all = Read<std::vector<Call>>([&](Reader& r) { return r.ListCalls(CallFilter{a}); });
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all[0].uuid, Uuid(5));  // newest first
  EXPECT_EQ(all[0].tags.size(), 2u);
  CallFilter f{a};
  f.campaign_id = 8;
  EXPECT_EQ(Read<std::vector<Call>>([&](Reader& r) { return r.ListCalls(f); }).size(), 2u);
  f = CallFilter{a};
  f.converted = true;
  auto converted = Read<std::vector<Call>>([&](Reader& r) { return r.ListCalls(f); });
  ASSERT_EQ(converted.size(), 1u);
  EXPECT_EQ(converted[0].uuid, Uuid(3));
  f = CallFilter{a};
  f.status = engine::Status::kAnswered;
  EXPECT_EQ(Read<std::vector<Call>>([&](Reader& r) { return r.ListCalls(f); }).size(), 1u);
  f = CallFilter{a};
  f.since = 2000;
  f.until = 4000;
  EXPECT_EQ(Read<std::vector<Call>>([&](Reader& r) { return r.ListCalls(f); }).size(), 2u);
  f = CallFilter{a};
  f.before_id = all[1].id;
  f.limit = 2;
  auto page = Read<std::vector<Call>>([&](Reader& r) { return r.ListCalls(f); });
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].uuid, Uuid(3));
  EXPECT_EQ(page[1].uuid, Uuid(2));

  auto live = Read<std::map<Id, int64_t>>([&](Reader& r) { return r.LiveCallsByBuyer(a); });
  EXPECT_EQ(live, (std::map<Id, int64_t>{{5, 1}}));
  Write([&](Writer& w) -> core::Result<void> {  // a writer's count (routing) is the same
    auto counted = w.LiveCallsByBuyer(a);
    if (!counted) return std::move(counted).error();
    EXPECT_EQ(*counted, (std::map<Id, int64_t>{{5, 1}}));
    return {};
  });
  auto prev = Read<std::optional<engine::PreviousCall>>(
      [&](Reader& r) { return r.FindPreviousCall(a, 7, "+15550000001", 0, 10000); });
  ASSERT_TRUE(prev.has_value());
  EXPECT_EQ(prev->buyer_id, 5);  // call 3: the latest of that caller in campaign 7
  EXPECT_EQ(prev->tags.size(), 2u);
  EXPECT_FALSE(Read<std::optional<engine::PreviousCall>>([&](Reader& r) {
                 return r.FindPreviousCall(a, 7, "+15550000001", 3500, 10000);
               }).has_value());
  // Started up to `until` only (a start back-dated before call 3 finds call 1)...
  auto earlier = Read<std::optional<engine::PreviousCall>>(
      [&](Reader& r) { return r.FindPreviousCall(a, 7, "+15550000001", 0, 2500); });
  ASSERT_TRUE(earlier.has_value());
  EXPECT_EQ(earlier->buyer_id, std::nullopt);
  // ... and never a call a SIP route lookup closed for want of a buyer.
  Write([&](Writer& w) -> core::Result<void> {
    auto f = w.FindCall(Uuid(1));
    if (!f) return std::move(f).error();
    Call c = **f;
    c.hung_up_by = "no_route";
    Outcome o;
    o.changed = o.call_changed = true;
    return w.SaveCall(c, o);
  });
  EXPECT_FALSE(Read<std::optional<engine::PreviousCall>>([&](Reader& r) {
                 return r.FindPreviousCall(a, 7, "+15550000001", 0, 2500);
               }).has_value());
  auto recent = Read<std::optional<Call>>(
      [&](Reader& r) { return r.FindRecentCallByCaller(a, "+15550000001", 0); });
  ASSERT_TRUE(recent.has_value());
  EXPECT_EQ(recent->uuid, Uuid(5));
  auto open = Read<std::vector<std::string>>([](Reader& r) { return r.ListOpenCalls(3500, 10); });
  EXPECT_EQ(open, (std::vector<std::string>{Uuid(99), Uuid(1), Uuid(2)}));
  auto by_status =
      Read<std::map<std::string, int64_t>>([](Reader& r) { return r.CountCallsByStatus(); });
  EXPECT_EQ(by_status["started"], 4);
  EXPECT_EQ(by_status["answered"], 1);
  EXPECT_EQ(by_status["ended"], 1);
}

TEST_P(StoreContract, PostbacksAndEffectsAreKeptWithTheirCall) {
  const Id a = NewAccount();
  Call c = NewCall(a, Uuid(1), 1000);
  Write([&](Writer& w) {
    return w.AppendPostback(
        c.id, PostbackLog{2000, "GET", R"({"sale":[""],"key":"[redacted]"})", "converted", 200});
  });
  auto logs = Read<std::vector<PostbackLog>>([&](Reader& r) { return r.ListPostbacks(c.id, 200); });
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_EQ(logs[0].params_json, R"({"sale":[""],"key":"[redacted]"})");
  EXPECT_EQ(logs[0].http_status, 200);
  auto effects = Read<std::vector<EffectRow>>([&](Reader& r) { return r.ListEffects(c.id); });
  ASSERT_EQ(effects.size(), 1u);
  EXPECT_EQ(effects[0].trigger, "started");
  EXPECT_EQ(effects[0].call_uuid, c.uuid);
}

// The call view lists the newest postbacks, oldest first; the counts (all, refused) are what
// the refusal cap and the view's total are read from.
TEST_P(StoreContract, PostbacksAreListedNewestLimitAndCounted) {
  const Id a = NewAccount();
  Call c = NewCall(a, Uuid(1), 1000);
  Call other = NewCall(a, Uuid(2), 1000);
  const int statuses[] = {200, 401, 200, 400, 401};
  Write([&](Writer& w) -> core::Result<void> {
    for (int i = 0; i < 5; ++i) {
      PostbackLog e{2000 + i, "GET", "{}", "n" + std::to_string(i), statuses[i]};
      if (auto r = w.AppendPostback(c.id, e); !r) return r;
    }
    return w.AppendPostback(other.id, PostbackLog{2000, "GET", "{}", "x", 401});
  });
  auto logs = Read<std::vector<PostbackLog>>([&](Reader& r) { return r.ListPostbacks(c.id, 2); });
  ASSERT_EQ(logs.size(), 2u);
  EXPECT_EQ(logs[0].outcome, "n3");
  EXPECT_EQ(logs[1].outcome, "n4");
  auto all = Read<std::vector<PostbackLog>>([&](Reader& r) { return r.ListPostbacks(c.id, 10); });
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all[0].outcome, "n0");
  auto counts = Read<PostbackCounts>([&](Reader& r) { return r.CountPostbacks(c.id); });
  EXPECT_EQ(counts.total, 5);
  EXPECT_EQ(counts.refused, 3);
  auto none = Read<PostbackCounts>([&](Reader& r) { return r.CountPostbacks(other.id + 100); });
  EXPECT_EQ(none.total, 0);
  EXPECT_EQ(none.refused, 0);
}

TEST_P(StoreContract, DeadlinesAreClaimedUnderALeaseAndClearedByTheDecision) {
  const Id a = NewAccount();
  std::vector<Call> calls;
  for (int i = 1; i <= 3; ++i) calls.push_back(NewCall(a, Uuid(i), 1000));
  Write([&](Writer& w) -> core::Result<void> {
    for (int i = 0; i < 3; ++i) {
      Outcome o;
      o.changed = true;
      o.timer = Outcome::Timer::kSet;
      o.timer_at = 10'000 + i * 1000;  // due at 10 s, 11 s, 12 s
      if (auto s = w.SaveCall(calls[i], o); !s) return s;
    }
    return {};
  });
  // The metrics' view: pending, due at a time, and the oldest of those due.
  auto counts = [&](core::Millis now) {
    return Read<DeadlineCounts>([&](Reader& r) { return r.CountDeadlines(now); });
  };
  EXPECT_EQ(counts(9'000).pending, 3);
  EXPECT_EQ(counts(9'000).due, 0);
  EXPECT_FALSE(counts(9'000).oldest_due.has_value());
  EXPECT_EQ(counts(11'500).due, 2);
  EXPECT_EQ(counts(11'500).oldest_due, std::optional<core::Millis>(10'000));
  using Due = std::vector<std::pair<std::string, core::Millis>>;
  auto claim = [&](core::Millis now, core::Millis lease) {
    Due out;
    Write([&](Writer& w) -> core::Result<void> {
      auto c = w.ClaimDueDeadlines(now, lease, 10);
      if (!c) return std::move(c).error();
      out = std::move(*c);
      return {};
    });
    return out;
  };
  EXPECT_TRUE(claim(9'999, 40'000).empty());
  EXPECT_EQ(claim(11'000, 40'000), (Due{{Uuid(1), 10'000}, {Uuid(2), 11'000}}));
  EXPECT_EQ(claim(20'000, 40'000), (Due{{Uuid(3), 12'000}}));  // the others are leased
  EXPECT_TRUE(claim(39'999, 50'000).empty());
  // Deciding call 1 removes its row; the lease of call 2 runs out and it is claimed again.
  Write([&](Writer& w) {
    Outcome o;
    o.changed = true;
    o.timer = Outcome::Timer::kClear;
    return w.SaveCall(calls[0], o);
  });
  EXPECT_EQ(claim(40'000, 70'000), (Due{{Uuid(2), 11'000}, {Uuid(3), 12'000}}));
  EXPECT_EQ(counts(40'000).pending, 2);  // claimed (leased) deadlines are still pending
  EXPECT_EQ(counts(40'000).oldest_due, std::optional<core::Millis>(11'000));
  // Setting a deadline again frees its lease; freeing every lease frees the rest.
  Write([&](Writer& w) {
    Outcome o;
    o.changed = true;
    o.timer = Outcome::Timer::kSet;
    o.timer_at = 45'000;
    return w.SaveCall(calls[1], o);
  });
  EXPECT_EQ(claim(45'000, 70'000), (Due{{Uuid(2), 45'000}}));
  Write([](Writer& w) { return w.ReleaseLeases(); });
  EXPECT_EQ(claim(45'000, 70'000), (Due{{Uuid(3), 12'000}, {Uuid(2), 45'000}}));
}

// A delivery handed to the dispatcher at its commit is inserted under its lease: its id is
// set, and no claim hands it out before the lease runs out.
TEST_P(StoreContract, ADeliveryInsertedUnderALeaseIsClaimedOnlyWhenTheLeaseRunsOut) {
  const Id a = NewAccount();
  Call c = NewCall(a, Uuid(1), 1000);
  Outcome o;
  o.changed = true;
  o.deliveries = {engine::PlannedDelivery{11, 0, "ended", 2000, "msg_leased", 62'000},
                  engine::PlannedDelivery{11, 1, "ended", 2000, "msg_free"}};
  Write([&](Writer& w) { return w.SaveCall(c, o); });
  ASSERT_NE(o.deliveries[0].id, 0);
  ASSERT_NE(o.deliveries[1].id, 0);
  EXPECT_NE(o.deliveries[0].id, o.deliveries[1].id);
  const auto leased = Read<std::optional<Delivery>>(
      [&](Reader& r) { return r.FindDelivery(a, o.deliveries[0].id); });
  ASSERT_TRUE(leased.has_value());
  EXPECT_EQ(leased->webhook_id, "msg_leased");
  const auto claim = [&](core::Millis now) {
    std::vector<std::string> ids;
    Write([&](Writer& w) -> core::Result<void> {
      auto d = w.ClaimDueDeliveries(now, now + 1'000'000, ClaimRoom{10});
      if (!d) return std::move(d).error();
      for (const auto& delivery : d->deliveries) ids.push_back(delivery.webhook_id);
      return {};
    });
    return ids;
  };
  EXPECT_EQ(claim(2000), std::vector<std::string>{"msg_free"});
  EXPECT_EQ(claim(61'999), std::vector<std::string>{});
  EXPECT_EQ(claim(62'000), std::vector<std::string>{"msg_leased"});
}

// A sender renews the leases of deliveries it still holds (queued for a busy receiver): only
// rows still under the lease it holds, so never one that another sender claimed after the
// lease ran out, nor one whose attempt was recorded since.
TEST_P(StoreContract, LeasesAreRenewedOnlyWhileTheSenderStillHoldsThem) {
  const Id a = NewAccount();
  Call c = NewCall(a, Uuid(1), 1000);
  Outcome o;
  o.changed = true;
  o.deliveries = {engine::PlannedDelivery{11, 0, "ended", 2000, "msg_one"},
                  engine::PlannedDelivery{11, 1, "ended", 2000, "msg_two"},
                  engine::PlannedDelivery{11, 2, "ended", 2000, "msg_three"},
                  engine::PlannedDelivery{11, 3, "ended", 2000, "msg_handed", 62'000}};
  Write([&](Writer& w) { return w.SaveCall(c, o); });
  const Id one = o.deliveries[0].id, two = o.deliveries[1].id, three = o.deliveries[2].id,
           handed = o.deliveries[3].id;
  const auto claim = [&](core::Millis now, core::Millis lease_until) {
    std::set<std::string> ids;
    Write([&](Writer& w) -> core::Result<void> {
      auto d = w.ClaimDueDeliveries(now, lease_until, ClaimRoom{10});
      if (!d) return std::move(d).error();
      for (const auto& delivery : d->deliveries) ids.insert(delivery.webhook_id);
      return {};
    });
    return ids;
  };
  const auto renew = [&](const std::vector<HeldLease>& held, core::Millis lease_until) {
    std::set<Id> renewed;
    Write([&](Writer& w) -> core::Result<void> {
      auto r = w.RenewDeliveryLeases(held, lease_until);
      if (!r) return std::move(r).error();
      renewed.insert(r->begin(), r->end());
      return {};
    });
    return renewed;
  };
  EXPECT_EQ(claim(2000, 62'000), (std::set<std::string>{"msg_one", "msg_two", "msg_three"}));
  EXPECT_EQ(renew({}, 90'000), std::set<Id>{});

  // The sender renews what it holds (the handed-over one under the lease it was inserted
  // with); a lease it does not hold (another time) is left as it is.
  EXPECT_EQ(renew({{one, 62'000}, {two, 62'000}, {three, 61'999}, {handed, 62'000}}, 300'000),
            (std::set<Id>{one, two, handed}));
  EXPECT_EQ(Read<std::optional<core::Millis>>([](Reader& r) { return r.NextDeliveryDue(); }),
            62'000);

  // Another sender takes `three` once its lease runs out: a renewal with the lease the first
  // one held leaves it to the other, whose lease still ends when it did.
  EXPECT_EQ(claim(62'000, 122'000), std::set<std::string>{"msg_three"});
  EXPECT_EQ(renew({{three, 62'000}}, 130'000), std::set<Id>{});
  EXPECT_EQ(claim(121'999, 10'000'000), std::set<std::string>{});
  EXPECT_EQ(claim(122'000, 10'000'000), std::set<std::string>{"msg_three"});

  // A recorded attempt frees the lease: nothing left to renew.
  AttemptResult ok{Attempt{50'000, 200, 8, "", "ok"}, DeliveryState::kDelivered, std::nullopt,
                   "https://buyer.example/hook", 300'000};
  Write([&](Writer& w) { return w.RecordAttempt(one, ok); });
  EXPECT_EQ(renew({{one, 300'000}, {two, 300'000}}, 400'000), std::set<Id>{two});
  EXPECT_EQ(claim(300'000, 10'000'000), std::set<std::string>{"msg_handed"});
  EXPECT_EQ(claim(399'999, 10'000'000), std::set<std::string>{});
  EXPECT_EQ(claim(400'000, 10'000'000), std::set<std::string>{"msg_two"});
}

TEST_P(StoreContract, AClaimTakesFromEachAccountNoMoreThanItsRoom) {
  // Account `busy` has five deliveries due first, `quiet` two due after them, `idle` one due
  // later still.
  const Id busy = NewAccount();
  const Id quiet = NewAccount("quiet");
  const Id idle = NewAccount("idle");
  const auto add = [&](Id account, int call, core::Millis at, int n) {
    Call c = NewCall(account, Uuid(call), 1000);
    Write([&](Writer& w) {
      Outcome o;
      o.changed = true;
      o.effects = {engine::Effect{"answered", at}};
      for (int i = 0; i < n; ++i) {
        o.deliveries.push_back(
            engine::PlannedDelivery{11, i, "answered", at, "msg_" + std::to_string(call * 10 + i)});
      }
      return w.SaveCall(c, o);
    });
  };
  add(busy, 1, 2000, 5);
  add(quiet, 2, 3000, 2);
  add(idle, 3, 9000, 1);
  const auto claim = [&](core::Millis now, ClaimRoom room) {
    Claimed out;
    Write([&](Writer& w) -> core::Result<void> {
      auto c = w.ClaimDueDeliveries(now, now + 60'000, room);
      if (!c) return std::move(c).error();
      out = std::move(*c);
      return {};
    });
    return out;
  };
  const auto ids = [](const Claimed& c) {
    std::vector<std::string> out;
    for (const Delivery& d : c.deliveries) out.push_back(d.webhook_id);
    return out;
  };

  // `busy` already holds one place of its three: two more, then `quiet`'s, earliest first.
  // `idle` is not due; `busy` is left waiting for room, `quiet` is not.
  Claimed first = claim(5000, ClaimRoom{10, 3, {{busy, 1}}});
  EXPECT_EQ(ids(first), (std::vector<std::string>{"msg_10", "msg_11", "msg_20", "msg_21"}));
  EXPECT_EQ(first.waiting, std::vector<Id>{busy});

  // Holding its whole share, `busy` gets nothing though its deliveries are the earliest due.
  Claimed second = claim(10'000, ClaimRoom{10, 3, {{busy, 3}, {quiet, 2}}});
  EXPECT_EQ(ids(second), std::vector<std::string>{"msg_30"});
  EXPECT_EQ(second.waiting, std::vector<Id>{busy});

  // Past its share, `busy` is lent places while three of the claim's four stay free: one.
  Claimed lent = claim(10'000, ClaimRoom{4, 3, {{busy, 3}}, 3});
  EXPECT_EQ(ids(lent), std::vector<std::string>{"msg_12"});
  EXPECT_EQ(lent.waiting, std::vector<Id>{busy});

  // A claim bound by its limit rather than an account's room leaves nobody waiting.
  Claimed third = claim(10'000, ClaimRoom{1, 3, {}});
  EXPECT_EQ(ids(third), std::vector<std::string>{"msg_13"});
  EXPECT_TRUE(third.waiting.empty());
  Claimed last = claim(10'000, ClaimRoom{10});
  EXPECT_EQ(ids(last), std::vector<std::string>{"msg_14"});
  EXPECT_TRUE(last.waiting.empty());

  // With many accounts, a claim reads a page of each (an even part of its limit, at least 16),
  // and says when an account could have taken more than its page: eight accounts have
  // deliveries now, `big` has 40 due.
  const Id big = NewAccount("big");
  add(big, 20, 20'000, 40);
  for (int k = 0; k < 4; ++k) add(NewAccount("small" + std::to_string(k)), 30 + 10 * k, 20'000, 1);
  const ClaimRoom plenty{64, 64, {}, 64};
  Claimed paged = claim(30'000, plenty);
  EXPECT_EQ(paged.deliveries.size(), 20u);  // 16 of big's, and the others' one each
  EXPECT_TRUE(paged.more);
  EXPECT_TRUE(paged.waiting.empty());
  Claimed next = claim(30'000, plenty);
  EXPECT_EQ(next.deliveries.size(), 16u);
  EXPECT_TRUE(next.more);
  Claimed rest = claim(30'000, plenty);
  EXPECT_EQ(rest.deliveries.size(), 8u);
  EXPECT_FALSE(rest.more);
}

// An attempt's verdict decides its delivery only while the delivery holds the lease the attempt
// was made under: a resend asked for meanwhile, or another sender that took the delivery over
// once the lease ran out, is not undone by it. The attempt is logged all the same.
TEST_P(StoreContract, AnAttemptUnderALeaseNoLongerHeldIsLoggedButDecidesNothing) {
  const Id a = NewAccount();
  Call c = NewCall(a, Uuid(1), 1000);
  Outcome o;
  o.changed = true;
  o.deliveries = {engine::PlannedDelivery{11, 0, "ended", 2000, "msg_one"}};
  Write([&](Writer& w) { return w.SaveCall(c, o); });
  const Id id = o.deliveries[0].id;
  const auto claim = [&](core::Millis now, core::Millis lease_until) {
    size_t n = 0;
    Write([&](Writer& w) -> core::Result<void> {
      auto d = w.ClaimDueDeliveries(now, lease_until, ClaimRoom{10});
      if (!d) return std::move(d).error();
      n = d->deliveries.size();
      return {};
    });
    return n;
  };
  const auto find = [&] {
    auto d = Read<std::optional<Delivery>>([&](Reader& r) { return r.FindDelivery(a, id); });
    EXPECT_TRUE(d.has_value());
    return d.value_or(Delivery{});
  };
  const auto record = [&](core::Millis at, int status, DeliveryState state, core::Millis lease,
                          core::Millis renewing_to = 0) {
    AttemptResult r{Attempt{at, status, 5, "", ""}, state, std::nullopt,
                    "https://b.example/",           lease, renewing_to};
    Write([&](Writer& w) { return w.RecordAttempt(id, r); });
  };

  // Claimed under 62,000; the operator resends while the attempt is on the wire; the attempt
  // then gets a 410. The resend stands: due at its time, free to claim.
  ASSERT_EQ(claim(2000, 62'000), 1u);
  Write([&](Writer& w) { return w.ResendDelivery(a, id, 3000); });
  record(3500, 410, DeliveryState::kFailed, 62'000);
  Delivery d = find();
  EXPECT_EQ(d.state, DeliveryState::kPending);
  EXPECT_EQ(d.next_attempt_at, 3000);
  EXPECT_EQ(d.attempt_count, 1);
  ASSERT_EQ(d.attempts.size(), 1u);
  EXPECT_EQ(d.attempts[0].http_status, 410);

  // Claimed again under 63,000; the lease runs out and another sender takes it under 130,000:
  // the first sender's late verdict leaves the second's lease and the state alone.
  ASSERT_EQ(claim(3000, 63'000), 1u);
  ASSERT_EQ(claim(63'000, 130'000), 1u);
  record(64'000, 503, DeliveryState::kRetrying, 63'000);
  d = find();
  EXPECT_EQ(d.state, DeliveryState::kPending);
  EXPECT_EQ(d.attempt_count, 2);
  EXPECT_EQ(claim(129'999, 200'000), 0u);  // still the second sender's

  // The second sender's verdict, under the lease a renewal of it may have set, decides.
  record(65'000, 200, DeliveryState::kDelivered, 1, 130'000);
  d = find();
  EXPECT_EQ(d.state, DeliveryState::kDelivered);
  EXPECT_FALSE(d.next_attempt_at.has_value());
  EXPECT_EQ(d.attempt_count, 3);
  EXPECT_EQ(d.attempts.size(), 3u);
}

TEST_P(StoreContract, DeliveriesAreClaimedAttemptedAndResent) {
  const Id a = NewAccount();
  const Id other = NewAccount("other");
  Call c = NewCall(a, Uuid(1), 1000);
  Write([&](Writer& w) {
    Outcome o;
    o.changed = true;
    o.effects = {engine::Effect{"answered", 2000}};
    o.deliveries = {engine::PlannedDelivery{11, 0, "answered", 2000, "msg_one"},
                    engine::PlannedDelivery{11, 1, "answered", 2000, "msg_two"}};
    return w.SaveCall(c, o);
  });
  EXPECT_EQ(Read<std::optional<core::Millis>>([](Reader& r) { return r.NextDeliveryDue(); }), 2000);
  std::vector<Delivery> claimed;
  Write([&](Writer& w) -> core::Result<void> {
    auto d = w.ClaimDueDeliveries(2000, 62'000, ClaimRoom{10});
    if (!d) return std::move(d).error();
    claimed = std::move(d->deliveries);
    return {};
  });
  ASSERT_EQ(claimed.size(), 2u);
  EXPECT_EQ(claimed[0].call_uuid, c.uuid);
  EXPECT_EQ(claimed[0].state, DeliveryState::kPending);
  std::set<std::string> ids{claimed[0].webhook_id, claimed[1].webhook_id};
  EXPECT_EQ(ids, (std::set<std::string>{"msg_one", "msg_two"}));
  // Leased: not claimed again before the lease ends.
  Write([&](Writer& w) -> core::Result<void> {
    auto d = w.ClaimDueDeliveries(3000, 63'000, ClaimRoom{10});
    if (!d) return std::move(d).error();
    EXPECT_TRUE(d->deliveries.empty());
    return {};
  });
  EXPECT_EQ(Read<std::optional<core::Millis>>([](Reader& r) { return r.NextDeliveryDue(); }),
            62'000);
  const Id first = claimed[0].id;
  AttemptResult failed{Attempt{2100, 503, 12, "", "busy"}, DeliveryState::kRetrying, 7100,
                       "https://buyer.example/hook?key=[redacted]", 62'000};
  Write([&](Writer& w) { return w.RecordAttempt(first, failed); });
  Write([&](Writer& w) -> core::Result<void> {
    auto retry = w.ClaimDueDeliveries(7100, 67'100, ClaimRoom{10});
    if (!retry) return std::move(retry).error();
    EXPECT_EQ(retry->deliveries.size(), 1u);
    return {};
  });
  AttemptResult ok{Attempt{7200, 200, 8, "", "ok"}, DeliveryState::kDelivered, std::nullopt,
                   "https://buyer.example/hook?key=[redacted]", 67'100};
  Write([&](Writer& w) { return w.RecordAttempt(first, ok); });
  auto d = Read<std::optional<Delivery>>([&](Reader& r) { return r.FindDelivery(a, first); });
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->state, DeliveryState::kDelivered);
  EXPECT_EQ(d->attempt_count, 2);
  EXPECT_FALSE(d->next_attempt_at.has_value());
  ASSERT_EQ(d->attempts.size(), 2u);
  EXPECT_EQ(d->attempts[0].http_status, 503);
  EXPECT_EQ(d->attempts[0].response_excerpt, "busy");
  EXPECT_EQ(d->attempts[1].at, 7200);
  EXPECT_EQ(d->url, "https://buyer.example/hook?key=[redacted]");
  EXPECT_FALSE(Read<std::optional<Delivery>>([&](Reader& r) {
                 return r.FindDelivery(other, first);
               }).has_value());

  DeliveryFilter f{a};
  f.state = DeliveryState::kDelivered;
  EXPECT_EQ(Read<std::vector<Delivery>>([&](Reader& r) { return r.ListDeliveries(f); }).size(), 1u);
  f = DeliveryFilter{a};
  f.call_id = c.id;
  auto both = Read<std::vector<Delivery>>([&](Reader& r) { return r.ListDeliveries(f); });
  ASSERT_EQ(both.size(), 2u);
  EXPECT_GT(both[0].id, both[1].id);  // newest first
  auto counts =
      Read<std::map<std::string, int64_t>>([](Reader& r) { return r.CountDeliveriesByState(); });
  EXPECT_EQ(counts["delivered"], 1);
  EXPECT_EQ(counts["pending"], 1);

  // Resend: due again now, whatever its state; another account's delivery is not found.
  auto wrong = s().WriteSync([&](Writer& w) { return w.ResendDelivery(other, first, 9000); });
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, core::ErrorCode::kNotFound);
  Write([&](Writer& w) { return w.ResendDelivery(a, first, 9000); });
  Write([&](Writer& w) -> core::Result<void> {
    auto again = w.ClaimDueDeliveries(9000, 69'000, ClaimRoom{10});
    if (!again) return std::move(again).error();
    EXPECT_EQ(again->deliveries.size(), 1u);
    if (!again->deliveries.empty()) {
      EXPECT_EQ(again->deliveries[0].id, first);
      EXPECT_EQ(again->deliveries[0].state, DeliveryState::kRetrying);
      EXPECT_EQ(again->deliveries[0].webhook_id, d->webhook_id);
    }
    return {};
  });
  Write([](Writer& w) { return w.ReleaseLeases(); });
  Write([&](Writer& w) -> core::Result<void> {
    auto freed = w.ClaimDueDeliveries(9000, 69'000, ClaimRoom{10});
    if (!freed) return std::move(freed).error();
    EXPECT_EQ(freed->deliveries.size(), 2u);
    return {};
  });
}

TEST_P(StoreContract, PrecallTagsAreTakenOnceAndExpire) {
  const Id a = NewAccount();
  Write([&](Writer& w) -> core::Result<void> {
    if (auto r = w.InsertPrecallTags(a, 4, "+15550000001", {{"old", "1"}}, 1000, 2000); !r)
      return r;
    if (auto r = w.InsertPrecallTags(a, 4, "+15550000001", {{"lead", "hot"}, {"zip", "10001"}},
                                     1500, 900'000);
        !r) {
      return r;
    }
    return w.InsertPrecallTags(a, 5, "+15550000002", {{"other", "x"}}, 1500, 900'000);
  });
  std::vector<PrecallTag> taken;
  Write([&](Writer& w) -> core::Result<void> {
    auto t = w.TakePrecallTags(a, "+15550000001", 3000);
    if (!t) return std::move(t).error();
    taken = std::move(*t);
    return {};
  });
  ASSERT_EQ(taken.size(), 2u);  // the expired one is not applied
  EXPECT_EQ(taken[0].key, "lead");
  EXPECT_EQ(taken[1].value, "10001");
  EXPECT_EQ(taken[0].publisher_id, 4);
  Write([&](Writer& w) -> core::Result<void> {
    auto t = w.TakePrecallTags(a, "+15550000001", 3000);
    if (!t) return std::move(t).error();
    EXPECT_TRUE(t->empty());  // used up
    return {};
  });
  Write([&](Writer& w) -> core::Result<void> {
    auto n = w.DeleteExpiredPrecallTags(1'000'000);
    if (!n) return std::move(n).error();
    EXPECT_EQ(*n, 1);
    return {};
  });
}

// Writing a stored tag again stores it once, for longer; at most kMaxPrecallTags wait for one
// caller, and a write past them stores nothing (none of its tags, new or old).
TEST_P(StoreContract, PrecallTagsAreStoredOnceAndAtMostAHundredWait) {
  const Id a = NewAccount();
  const std::string caller = "+15550000001";
  const auto insert = [&](const engine::Params& tags, core::Millis now, core::Millis expires) {
    return s().WriteSync(
        [&](Writer& w) { return w.InsertPrecallTags(a, 4, caller, tags, now, expires); });
  };
  for (int i = 0; i < 150; ++i) ASSERT_TRUE(insert({{"lead", "L1"}}, 1000 + i, 10'000 + i));
  engine::Params many;
  for (int i = 0; i < 98; ++i) many.emplace_back("t" + std::to_string(i), "v");
  ASSERT_TRUE(insert(many, 2000, 20'000));
  ASSERT_TRUE(insert({{"zip", "90210"}}, 2000, 20'000));  // the 100th
  auto full = insert({{"late", "1"}, {"lead", "L2"}}, 2000, 20'000);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, core::ErrorCode::kUnprocessable) << full.error().message;
  ASSERT_TRUE(insert({{"zip", "90210"}}, 2000, 20'000));  // stored already: no room needed
  std::vector<PrecallTag> taken;
  Write([&](Writer& w) -> core::Result<void> {
    // After the first write's own expiry: the later writes kept it.
    auto t = w.TakePrecallTags(a, caller, 10'100);
    if (!t) return std::move(t).error();
    taken = std::move(*t);
    return {};
  });
  ASSERT_EQ(taken.size(), 100u);
  EXPECT_EQ(taken[0].key, "lead");
  EXPECT_EQ(taken[0].value, "L1");
  EXPECT_EQ(taken[99].key, "zip");
  for (const PrecallTag& t : taken) EXPECT_NE(t.key, "late");
}

// R10: the writers' queue is bounded. With every writer busy and the queue full, a write fails
// at once with kUnavailable and runs nothing; what was queued runs once a writer is free.
TEST_P(StoreContract, AWritePastTheQueueFailsAtOnce) {
  auto opened = Open(/*max_queue=*/4);
  ASSERT_TRUE(opened) << opened.error().message;
  Store& st = **opened;
  const int writers = GetParam() == "sqlite" ? 1 : kPgWriters;
  std::mutex mu;
  std::condition_variable cv;
  int busy = 0, done = 0, committed = 0;
  bool go = false;
  const auto finished = [&](core::Result<void> r) {
    std::lock_guard lock(mu);
    ++done;
    committed += r ? 1 : 0;
    cv.notify_all();
  };
  for (int i = 0; i < writers; ++i) {
    st.Write(
        [&](Writer&) -> core::Result<void> {
          std::unique_lock lock(mu);
          ++busy;
          cv.notify_all();
          cv.wait(lock, [&] { return go; });
          return {};
        },
        finished);
  }
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return busy == writers; }));
  }
  std::atomic<int> ran{0};
  for (int i = 0; i < 4; ++i) {
    st.Write(
        [&](Writer&) -> core::Result<void> {
          ++ran;
          return {};
        },
        finished);
  }
  std::optional<core::Result<void>> refused;
  st.Write(
      [&](Writer&) -> core::Result<void> {
        ++ran;
        return {};
      },
      [&](core::Result<void> r) { refused = std::move(r); });
  ASSERT_TRUE(refused.has_value()) << "not answered at once";
  ASSERT_FALSE(*refused);
  EXPECT_EQ(refused->error().code, core::ErrorCode::kUnavailable);
  {
    std::lock_guard lock(mu);
    go = true;
  }
  cv.notify_all();
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return done == writers + 4; }));
  EXPECT_EQ(committed, writers + 4);
  EXPECT_EQ(ran.load(), 4);
}

TEST_P(StoreContract, AFailedUnitChangesNothingAndOthersCommit) {
  const Id a = NewAccount();
  std::atomic<int> done{0};
  core::Result<void> bad = core::Internal("unset"), good = core::Internal("unset");
  s().Write(
      [&](Writer& w) -> core::Result<void> {
        if (auto r = NewCallIn(w, a, Uuid(1)); !r) return r;
        return core::InvalidArgument("changed my mind");  // after a successful insert
      },
      [&](core::Result<void> r) { bad = std::move(r), ++done; });
  s().Write([&](Writer& w) -> core::Result<void> { return NewCallIn(w, a, Uuid(2)); },
            [&](core::Result<void> r) { good = std::move(r), ++done; });
  while (done < 2) std::this_thread::yield();
  EXPECT_FALSE(bad);
  EXPECT_TRUE(good);
  EXPECT_FALSE(
      Read<std::optional<Call>>([](Reader& r) { return r.FindCall(Uuid(1)); }).has_value());
  EXPECT_TRUE(Read<std::optional<Call>>([](Reader& r) { return r.FindCall(Uuid(2)); }).has_value());
}

// Units queued together (one group commit on SQLite, which runs them without savepoints and
// runs the group again when a unit fails after writing): a unit that fails after inserting is
// undone alone, one that fails before writing costs nothing, and the others commit, each seeing
// the calls the units before it saved.
// SQLite only: PostgreSQL runs units on several connections at once, in no set order.
TEST_P(StoreContract, ASettingKeepsItsFirstValue) {
  auto keep = [&](const std::string& value) {
    std::string kept;
    Write([&](Writer& w) -> core::Result<void> {
      auto v = w.KeepSetting("secret_check", value);
      if (!v) return std::move(v).error();
      kept = *v;
      return {};
    });
    return kept;
  };
  EXPECT_EQ(keep("first"), "first");
  EXPECT_EQ(keep("second"), "first");
  auto other = Open();  // another node, or the same after a restart
  ASSERT_TRUE(other) << other.error().message;
  std::string seen;
  ASSERT_TRUE((*other)->WriteSync([&](Writer& w) -> core::Result<void> {
    auto v = w.KeepSetting("secret_check", "third");
    if (!v) return std::move(v).error();
    seen = *v;
    return {};
  }));
  EXPECT_EQ(seen, "first");
}

class SqliteStore : public StoreContract {};

TEST_P(SqliteStore, AmongUnitsQueuedTogetherOnlyTheFailedOnesAreUndone) {
  const Id a = NewAccount();
  constexpr int kUnits = 30;
  std::mutex mu;
  std::condition_variable cv;
  bool all_queued = false;
  std::atomic<int> done{0};
  std::vector<core::Result<void>> results(kUnits, core::Internal("unset"));
  // The first unit holds the writer until the others are queued, so they queue as one group.
  s().Write(
      [&](Writer&) -> core::Result<void> {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return all_queued; });
        return {};
      },
      [&](core::Result<void>) { ++done; });
  for (int i = 0; i < kUnits; ++i) {
    s().Write(
        [&, i](Writer& w) -> core::Result<void> {
          if (i % 3 == 1) return core::NotFound("failed before writing");
          if (i % 3 == 2) {  // tags the call unit i - 2 saved in this group
            auto f = w.FindCall(Uuid(100 + i - 2));
            if (!f) return std::move(f).error();
            if (!*f) return core::Internal("the call of the unit before is not there");
            Call c = std::move(**f);
            engine::Tag tag{"seen", std::to_string(i), engine::TagSource::kPostback, 2000};
            c.tags.push_back(tag);
            Outcome o;
            o.changed = true;
            o.new_tags = {tag};
            return w.SaveCall(c, o);
          }
          if (auto r = NewCallIn(w, a, Uuid(100 + i)); !r) return r;
          if (i % 6 == 3) {  // after the insert: undone, and unit i + 2 finds no call
            return core::InvalidArgument("changed my mind");
          }
          return {};
        },
        [&, i](core::Result<void> r) { results[i] = std::move(r), ++done; });
  }
  {
    std::lock_guard lock(mu);
    all_queued = true;
  }
  cv.notify_all();
  while (done < kUnits + 1) std::this_thread::yield();
  for (int i = 0; i < kUnits; ++i) {
    const bool ok = i % 3 == 0 ? i % 6 != 3 : i % 3 == 2 && (i - 2) % 6 != 3;
    EXPECT_EQ(static_cast<bool>(results[i]), ok) << i;
    if (i % 3 != 0) continue;
    auto c = Read<std::optional<Call>>([&](Reader& r) { return r.FindCall(Uuid(100 + i)); });
    ASSERT_EQ(c.has_value(), ok) << i;
    if (!ok) continue;
    ASSERT_EQ(c->tags.size(), 3u) << i;
    EXPECT_EQ(c->tags[2].value, std::to_string(i + 2)) << i;
  }
}

// The default VFS's pread64 replaced (xSetSystemCall) by one that fails, while `armed`, the
// next read of a file whose name ends in ".db".
struct FailNextDbRead {
  using Pread64 = ssize_t(int, void*, size_t, off_t);
  static inline std::atomic<bool> armed{false};
  static inline Pread64* real = nullptr;
  static ssize_t Pread(int fd, void* data, size_t n, off_t offset) {
    if (armed.load() && PathOfFd(fd).ends_with(".db") && armed.exchange(false)) {
      errno = EBADF;  // not EIO, which SQLite takes for a corrupt file system
      return -1;
    }
    return real(fd, data, n, offset);
  }
  FailNextDbRead() { armed = false; }
  ~FailNextDbRead() { armed = false; }
  ReplacedSystemCall replaced{"pread64", &Pread, &real};
};

// A read that fails with an I/O error makes SQLite roll the whole transaction back: the units
// queued with the failed one must not then run outside any transaction (each statement
// committing on its own while the group is reported failed). All of them fail, and none leaves
// a trace.
TEST_P(SqliteStore, AnIoErrorInAUnitFailsItsWholeGroup) {
  const Id a = NewAccount();
  NewCall(a, Uuid(1), 1000);
  store_.reset();  // a restart: the call is read from the file, not from a cache
  auto reopened = Open();
  ASSERT_TRUE(reopened) << reopened.error().message;
  store_ = std::move(*reopened);
  FailNextDbRead hook;
  std::mutex mu;
  std::condition_variable cv;
  bool all_queued = false;
  std::atomic<int> done{0};
  std::vector<core::Result<void>> results(2, core::Internal("unset"));
  bool read_failed = false;  // in the unit, not in the group's BEGIN
  // The first unit holds the writer until the others are queued, so they queue as one group.
  s().Write(
      [&](Writer&) -> core::Result<void> {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return all_queued; });
        FailNextDbRead::armed = true;
        return {};
      },
      [&](core::Result<void>) { ++done; });
  s().Write(
      [&](Writer& w) -> core::Result<void> {
        auto f = w.FindCall(Uuid(1));
        if (!f) {
          read_failed = true;
          return std::move(f).error();
        }
        return {};
      },
      [&](core::Result<void> r) { results[0] = std::move(r), ++done; });
  s().Write([&](Writer& w) -> core::Result<void> { return NewCallIn(w, a, Uuid(2)); },
            [&](core::Result<void> r) { results[1] = std::move(r), ++done; });
  {
    std::lock_guard lock(mu);
    all_queued = true;
  }
  cv.notify_all();
  while (done < 3) std::this_thread::yield();
  EXPECT_TRUE(read_failed) << "the read that failed was not the unit's";
  EXPECT_FALSE(results[0]);
  const bool saved =
      Read<std::optional<Call>>([](Reader& r) { return r.FindCall(Uuid(2)); }).has_value();
  EXPECT_EQ(static_cast<bool>(results[1]), saved);
  EXPECT_FALSE(saved);
  // The store goes on.
  Write([&](Writer& w) { return NewCallIn(w, a, Uuid(3)); });
  EXPECT_TRUE(Read<std::optional<Call>>([](Reader& r) { return r.FindCall(Uuid(3)); }));
}

// A unit that saved a call and then failed leaves no trace for the units after it, whether it
// changed the call's row or only added tags (the SQLite writer caches the calls it saves).
TEST_P(StoreContract, TheUnitsAfterAFailedUnitSeeTheCallAsItWas) {
  const Id a = NewAccount();
  NewCall(a, Uuid(1), 1000);
  for (bool row : {true, false}) {
    auto failed = s().WriteSync([&](Writer& w) -> core::Result<void> {
      auto f = w.FindCall(Uuid(1));
      if (!f) return std::move(f).error();
      Call c = std::move(**f);
      engine::Tag tag{"gone", "x", engine::TagSource::kPostback, 2000};
      c.tags.push_back(tag);
      if (row) c.hung_up_by = "gone";
      Outcome o;
      o.changed = true;
      o.call_changed = row;
      o.new_tags = {tag};
      if (auto r = w.SaveCall(c, o); !r) return r;
      return core::InvalidArgument("changed my mind");  // after the save
    });
    EXPECT_FALSE(failed);
    std::optional<Call> seen;
    auto r = s().WriteSync([&](Writer& w) -> core::Result<void> {
      auto f = w.FindCall(Uuid(1));
      if (!f) return std::move(f).error();
      seen = std::move(*f);
      return {};
    });
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_TRUE(seen.has_value());
    EXPECT_EQ(seen->tags.size(), 2u) << "row changed: " << row;
    EXPECT_EQ(seen->hung_up_by, "") << "row changed: " << row;
  }
}

TEST_P(StoreContract, AnAcknowledgedWriteIsThereAfterARestart) {
  const Id a = NewAccount();
  NewCall(a, Uuid(1), 1000);
  store_->Close();
  auto done = s().WriteSync([](Writer&) { return core::Result<void>(); });
  ASSERT_FALSE(done);  // closed
  EXPECT_EQ(done.error().code, core::ErrorCode::kUnavailable);
  store_.reset();
  auto reopened = Open();
  ASSERT_TRUE(reopened) << reopened.error().message;
  store_ = std::move(*reopened);
  auto c = Read<std::optional<Call>>([](Reader& r) { return r.FindCall(Uuid(1)); });
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->tags.size(), 2u);
}

// Units on one call from many threads and two stores on one database (two nodes) run one
// after the other: every tag lands, each at its own position.
TEST_P(StoreContract, ConcurrentUnitsOnOneCallRunOneAfterTheOther) {
  const Id a = NewAccount();
  NewCall(a, Uuid(1), 1000);
  auto second = Open();
  ASSERT_TRUE(second) << second.error().message;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  constexpr int kThreads = 4, kEach = 25;
  for (int t = 0; t < kThreads; ++t) {
    Store& target = t % 2 ? **second : s();
    threads.emplace_back([&, t, &target = target] {
      for (int i = 0; i < kEach; ++i) {
        auto r = target.WriteSync([&](Writer& w) -> core::Result<void> {
          auto f = w.FindCall(Uuid(1));
          if (!f) return std::move(f).error();
          Call c = std::move(**f);
          engine::Tag tag{"n", "v" + std::to_string(t * 1000 + i), engine::TagSource::kPostback,
                          2000};
          c.tags.push_back(tag);
          Outcome o;
          o.changed = true;
          o.new_tags = {tag};
          return w.SaveCall(c, o);
        });
        if (!r) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  auto c = Read<std::optional<Call>>([](Reader& r) { return r.FindCall(Uuid(1)); });
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->tags.size(), 2u + kThreads * kEach);
  std::set<std::string> values;
  for (const auto& t : c->tags) values.insert(t.value);
  EXPECT_EQ(values.size(), 2u + kThreads * kEach);
}

// Calls of one caller started at once from two stores on one database (two nodes) see each
// other: each start looks up the caller's previous call and inserts its own in one unit, and
// exactly one of them finds none.
TEST_P(StoreContract, StartsOfOneCallerFromTwoStoresSeeEachOther) {
  const Id a = NewAccount();
  auto second = Open();
  ASSERT_TRUE(second) << second.error().message;
  constexpr int kStarts = 6;
  std::atomic<int> first_calls{0}, failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kStarts; ++i) {
    Store& target = i % 2 ? **second : s();
    threads.emplace_back([&, i, &target = target] {
      auto r = target.WriteSync([&](Writer& w) -> core::Result<void> {
        auto prev = w.FindPreviousCall(a, 7, "+15557770000", 0, 1'000'000);
        if (!prev) return std::move(prev).error();
        // Widen the window in which another node could start the same caller's call.
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        Call c;
        c.uuid = Uuid(100 + i);
        c.account_id = a;
        c.campaign_id = 7;
        c.caller_number = "+15557770000";
        c.started_at = 1000 + i;
        if (auto s = SaveNewCall(w, c); !s) return s;
        if (!prev->has_value()) ++first_calls;
        return {};
      });
      if (!r) ++failures;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(first_calls, 1);
}

// Two stores claiming the same due work at once (two nodes) never claim one item twice.
TEST_P(StoreContract, TwoNodesClaimDisjointWork) {
  const Id a = NewAccount();
  constexpr int kCalls = 60;
  Write([&](Writer& w) -> core::Result<void> {
    for (int i = 1; i <= kCalls; ++i) {
      if (auto r = NewCallIn(w, a, Uuid(i)); !r) return r;
      auto f = w.FindCall(Uuid(i));
      if (!f) return std::move(f).error();
      Outcome o;
      o.changed = true;
      o.timer = Outcome::Timer::kSet;
      o.timer_at = 5000;
      o.deliveries = {engine::PlannedDelivery{1, 0, "ended", 5000, "msg_" + std::to_string(i)}};
      if (auto r = w.SaveCall(**f, o); !r) return r;
    }
    return {};
  });
  auto second = Open();
  ASSERT_TRUE(second) << second.error().message;
  std::mutex mu;
  std::multiset<std::string> deadlines, deliveries;
  auto node = [&](Store& st) {
    for (int round = 0; round < 20; ++round) {
      auto r = st.WriteSync([&](Writer& w) -> core::Result<void> {
        auto d = w.ClaimDueDeadlines(6000, 60'000, 3);
        if (!d) return std::move(d).error();
        auto o = w.ClaimDueDeliveries(6000, 60'000, ClaimRoom{3});
        if (!o) return std::move(o).error();
        std::lock_guard lock(mu);
        for (auto& [uuid, due] : *d) deadlines.insert(uuid);
        for (auto& x : o->deliveries) deliveries.insert(x.webhook_id);
        return {};
      });
      EXPECT_TRUE(r) << r.error().message;
    }
  };
  std::thread t1([&] { node(s()); }), t2([&] { node(**second); });
  t1.join(), t2.join();
  EXPECT_EQ(deadlines.size(), size_t{kCalls});
  EXPECT_EQ(std::set<std::string>(deadlines.begin(), deadlines.end()).size(), size_t{kCalls});
  EXPECT_EQ(deliveries.size(), size_t{kCalls});
  EXPECT_EQ(std::set<std::string>(deliveries.begin(), deliveries.end()).size(), size_t{kCalls});
}

// The answers of a group wait for the fsync of the WAL holding its commit, made on the store's
// sync thread while the writer goes on; a group that wrote nothing needs no fsync.
TEST_P(SqliteStore, AnswersWaitForTheFsyncOfTheWal) {
  std::mutex mu;
  std::condition_variable cv;
  int syncs = 0;
  bool hold = true;
  SqliteOptions o{(dir_ / "synced.db").string()};
  o.sync_wal = [&](int fd) {
    std::unique_lock lock(mu);
    ++syncs;
    cv.notify_all();
    cv.wait(lock, [&] { return !hold; });
    return ::fdatasync(fd);
  };
  auto opened = OpenSqlite(o);
  ASSERT_TRUE(opened) << opened.error().message;
  Store& synced = **opened;
  std::optional<core::Result<void>> answer;
  const auto answered = [&](core::Result<void> r) {
    std::lock_guard lock(mu);
    answer = std::move(r);
    cv.notify_all();
  };
  synced.Write([](Writer& w) { return NewCallIn(w, 1, "5f0c0d1e-0000-4000-8000-000000000001"); },
               answered);
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return syncs == 1; }));
  }
  // Committed and visible, not yet answered: the fsync is held back.
  auto visible = synced.Read([](Reader& r) -> core::Result<void> {
    auto c = r.FindCall("5f0c0d1e-0000-4000-8000-000000000001");
    if (!c) return std::move(c).error();
    if (!*c) return core::NotFound("not visible yet");
    return {};
  });
  EXPECT_TRUE(visible) << visible.error().message;
  {
    std::unique_lock lock(mu);
    EXPECT_FALSE(answer.has_value());
    hold = false;
    cv.notify_all();
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return answer.has_value(); }));
    EXPECT_TRUE(*answer);
  }
  // A unit that fails before writing: answered without another fsync.
  auto failed = synced.WriteSync([](Writer& w) -> core::Result<void> {
    auto c = w.FindCall("5f0c0d1e-0000-4000-8000-00000000ffff");
    if (!c) return std::move(c).error();
    return core::NotFound("no such call");
  });
  EXPECT_FALSE(failed);
  std::lock_guard lock(mu);
  EXPECT_EQ(syncs, 1);
}

// Under writes that never pause, the checkpoint thread never copies the whole WAL, and SQLite
// starts the WAL over only when a write begins with every frame copied: without the writer
// finishing the checkpoint itself, the WAL grows for as long as the writes go on.
TEST_P(SqliteStore, TheWalStartsOverUnderWritesThatNeverPause) {
  SqliteOptions o{(dir_ / "busy.db").string()};
  o.checkpoint_pages = 64;  // the writer finishes a checkpoint past 256 pages (1 MB)
  o.max_batch = 64;
  auto opened = OpenSqlite(o);
  ASSERT_TRUE(opened) << opened.error().message;
  Store& busy = **opened;
  // All queued at once: the writer runs one group after the other without a pause.
  constexpr int kUnits = 6000;
  std::mutex mu;
  std::condition_variable cv;
  int answered = 0, failed = 0;
  for (int i = 0; i < kUnits; ++i) {
    char uuid[40];
    std::snprintf(uuid, sizeof uuid, "5f0c0d1e-0000-4000-8000-%012d", i);
    busy.Write([id = std::string(uuid)](Writer& w) { return NewCallIn(w, 1, id); },
               [&](core::Result<void> r) {
                 std::lock_guard lock(mu);
                 failed += r ? 0 : 1;
                 if (++answered == kUnits) cv.notify_one();
               });
  }
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return answered == kUnits; }));
  EXPECT_EQ(failed, 0);
  // 6,000 calls wrote ~15 MB of WAL frames; the WAL starts over past ~1 MB.
  EXPECT_LT(std::filesystem::file_size(dir_ / "busy.db-wal"), uintmax_t{4} << 20);
}

// Migration 6 moves schema 5's table of effects into the rows of their calls, in order.
TEST_P(SqliteStore, AnUpgradeKeepsEveryCallsEffectsInOrder) {
  const std::string path = (dir_ / "old.db").string();
  {
    auto old = Db::Open(path, false);
    ASSERT_TRUE(old) << old.error().message;
    ASSERT_TRUE(MigrateSqlite(**old, 5));
    const auto r = (*old)->Exec(
        "INSERT INTO calls (id, uuid, account_id, campaign_id, number, caller_number, repeat,"
        " status, started_at, hung_up_by, conv_state, conv_late) VALUES"
        " (1, 'u1', 1, 1, '+18005550100', '+15551230000', 0, 3, 1000, 'caller', 0, 0),"
        " (2, 'u2', 1, 1, '+18005550100', '+15551230001', 0, 0, 2000, '', 0, 0),"
        " (3, 'u3', 1, 1, '+18005550100', '+15551230002', 0, 0, 3000, '', 0, 0);"
        "INSERT INTO call_effects (call_id, trigger, at) VALUES (1, 'started', 1000),"
        " (2, 'started', 2000), (1, 'answered', 1500), (1, 'ended', 9000);");
    ASSERT_TRUE(r) << r.error().message;
  }
  auto opened = OpenSqlite(SqliteOptions{path});
  ASSERT_TRUE(opened) << opened.error().message;
  const auto effects = [&](Id call_id) {
    std::vector<std::string> out;
    const auto r = (*opened)->Read([&](Reader& rd) -> core::Result<void> {
      auto l = rd.ListEffects(call_id);
      if (!l) return std::move(l).error();
      for (const auto& e : *l)
        out.push_back(e.call_uuid + " " + e.trigger + " " + std::to_string(e.at));
      return {};
    });
    EXPECT_TRUE(r) << r.error().message;
    return out;
  };
  EXPECT_EQ(effects(1),
            (std::vector<std::string>{"u1 started 1000", "u1 answered 1500", "u1 ended 9000"}));
  EXPECT_EQ(effects(2), (std::vector<std::string>{"u2 started 2000"}));
  EXPECT_EQ(effects(3), std::vector<std::string>{});
  // New effects follow the moved ones.
  ASSERT_TRUE((*opened)->WriteSync([](Writer& w) -> core::Result<void> {
    auto c = w.FindCall("u2");
    if (!c) return std::move(c).error();
    engine::Outcome o;
    o.changed = true;
    o.effects = {engine::Effect{"ended", 2500}, engine::Effect{"completed", 2500}};
    return w.SaveCall(**c, o);  // effects without a change to the row
  }));
  EXPECT_EQ(effects(2),
            (std::vector<std::string>{"u2 started 2000", "u2 ended 2500", "u2 completed 2500"}));
}

// A failed fsync leaves changes visible that the disk may not hold: the process stops rather
// than answer either way, and a restart recovers what the disk holds.
TEST_P(SqliteStore, AFailedFsyncOfTheWalStopsTheProcess) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const std::string path = (dir_ / "failing.db").string();
  EXPECT_DEATH(
      {
        SqliteOptions o{path};
        o.sync_wal = [](int) {
          errno = EBADF;  // not EIO, which SQLite takes for a corrupt file system
          return -1;
        };
        auto opened = OpenSqlite(o);
        if (opened) {
          (void)(*opened)->WriteSync(
              [](Writer& w) { return NewCallIn(w, 1, "5f0c0d1e-0000-4000-8000-000000000002"); });
        }
      },
      "fsync of the SQLite WAL failed");
}

class PgStore : public StoreContract {
 protected:
  PgTestSchema& pg() { return *pg_; }
};

// After PostgreSQL closed the connections (a restart, a failover), the next units and reads
// succeed: a connection found closed at BEGIN is opened again, not answered with an error.
TEST_P(PgStore, ConnectionsClosedByTheServerAreOpenedAgainAtTheNextUnit) {
  const Id a = NewAccount();
  NewCall(a, Uuid(1), 1000);
  ASSERT_TRUE(pg().TerminateConnections());
  for (int i = 0; i < 8; ++i) {  // more than the store's connections
    auto w = s().WriteSync([](Writer& w) { return w.ReleaseLeases(); });
    EXPECT_TRUE(w) << w.error().message;
    auto c = Read<std::optional<Call>>([](Reader& r) { return r.FindCall(Uuid(1)); });
    EXPECT_TRUE(c.has_value());
  }
}

INSTANTIATE_TEST_SUITE_P(Stores, StoreContract, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });
INSTANTIATE_TEST_SUITE_P(Stores, SqliteStore, ::testing::Values("sqlite"),
                         [](const auto& info) { return info.param; });
INSTANTIATE_TEST_SUITE_P(Stores, PgStore, ::testing::Values("postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace store

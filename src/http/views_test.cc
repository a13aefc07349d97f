#include "http/views.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "core/money.h"

namespace http {
namespace {

namespace json = boost::json;

engine::Call FullCall() {
  engine::Call c;
  c.uuid = "5f0c0d1e-0000-4000-8000-000000000001";
  c.campaign_id = 7;
  c.publisher_id = 3;
  c.number_id = 11;
  c.number = "+18005550100";
  c.caller_number = "+15551230000";
  c.edge_call_id = "sip-call-1";
  c.repeat = true;
  c.status = engine::Status::kEnded;
  c.started_at = 1000;
  c.answered_at = 2000;
  c.ended_at = 97000;
  c.duration_seconds = 95;
  c.hung_up_by = "caller";
  c.conversion.state = engine::ConversionState::kConverted;
  c.conversion.group_id = 5;
  c.conversion.revenue = core::Money::FromCents(1250);
  c.conversion.payout = core::Money::FromCents(1000);
  c.conversion.decided_at = 98000;
  c.tags = {engine::Tag{"zip", "10001", engine::TagSource::kEdge, 1000},
            engine::Tag{"disposition", "sold", engine::TagSource::kPostback, 98000},
            engine::Tag{"zip", "10002", engine::TagSource::kPostback, 98000, true, 3},
            engine::Tag{"say \"hi\"", "a,b", engine::TagSource::kPostback, 98000}};
  return c;
}

// The operator's view: every member in its place, tags joined per key in the order the keys
// first appear, the history one entry a tag.
TEST(CallJson, WritesTheOperatorsViewInOrder) {
  const std::string text = CallJson(FullCall(), "k3y");
  const json::object o = json::parse(text).as_object();
  std::vector<std::string> keys;
  for (const auto& kv : o) keys.emplace_back(kv.key());
  EXPECT_EQ(keys,
            (std::vector<std::string>{
                "uuid",       "status",    "caller_number", "campaign_id",  "publisher_id",
                "buyer_id",   "number_id", "number",        "edge_call_id", "repeat",
                "started_at", "routed_at", "answered_at",   "ended_at",     "duration_seconds",
                "hung_up_by", "tags",      "conversion",    "key",          "tag_history"}));
  EXPECT_EQ(o.at("status"), "ended");
  EXPECT_EQ(o.at("campaign_id"), 7);
  EXPECT_TRUE(o.at("buyer_id").is_null());
  EXPECT_TRUE(o.at("routed_at").is_null());
  EXPECT_EQ(o.at("started_at"), "1970-01-01T00:00:01.000Z");
  EXPECT_EQ(o.at("repeat"), true);
  EXPECT_EQ(o.at("tags"), json::parse(R"({"zip":"10001,10002","disposition":"sold",)"
                                      R"("say \"hi\"":"a,b"})"));
  EXPECT_EQ(o.at("conversion"),
            json::parse(R"({"state":"converted","group_id":5,"revenue":"12.50",)"
                        R"("payout":"10.00","late":false,"deadline_at":null,)"
                        R"("decided_at":"1970-01-01T00:01:38.000Z"})"));
  std::vector<std::string> tag_keys;
  for (const auto& kv : o.at("tags").as_object()) tag_keys.emplace_back(kv.key());
  EXPECT_EQ(tag_keys, (std::vector<std::string>{"zip", "disposition", "say \"hi\""}));
  const json::array& history = o.at("tag_history").as_array();
  ASSERT_EQ(history.size(), 4u);
  EXPECT_EQ(history[2], json::parse(R"({"key":"zip","value":"10002","source":"postback",)"
                                    R"("carried":true,"publisher_id":3,)"
                                    R"("at":"1970-01-01T00:01:38.000Z"})"));
  // No key, no "key" member.
  EXPECT_FALSE(json::parse(CallJson(FullCall(), "")).as_object().contains("key"));
}

TEST(CallJson, TheBuyersViewHasNoKeyAndNoHistory) {
  const json::object o = json::parse(BuyerCallJson(FullCall())).as_object();
  std::vector<std::string> keys;
  for (const auto& kv : o) keys.emplace_back(kv.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"uuid", "status", "caller_number", "started_at",
                                            "answered_at", "ended_at", "duration_seconds", "tags",
                                            "conversion"}));
}

TEST(CallJson, DetailsAddThePostbackLogEffectsAndWebhooks) {
  service::CallDetails d;
  d.call = FullCall();
  d.postbacks = {store::PostbackLog{98000, "GET", R"({"tag":["sold"]})", "ok", 200},
                 store::PostbackLog{99000, "GET", "not json", "refused", 401}};
  d.effects = {store::EffectRow{1, d.call.uuid, "ended", 97000}};
  store::Delivery w;
  w.id = 9;
  w.call_uuid = d.call.uuid;
  w.trigger = "ended";
  w.created_at = 97000;
  d.deliveries = {w};
  const json::object o = json::parse(CallDetailsJson(d, "k3y")).as_object();
  const json::array& postbacks = o.at("postbacks").as_array();
  ASSERT_EQ(postbacks.size(), 2u);
  EXPECT_EQ(postbacks[0].at("params"), json::parse(R"({"tag":["sold"]})"));
  EXPECT_EQ(postbacks[1].at("params"), json::object());  // an unreadable log entry
  EXPECT_EQ(postbacks[1].at("http_status"), 401);
  EXPECT_EQ(o.at("effects"),
            json::parse(R"([{"trigger":"ended","at":"1970-01-01T00:01:37.000Z"}])"));
  EXPECT_EQ(o.at("webhooks").as_array().at(0).at("id"), 9);
  EXPECT_EQ(o.at("key"), "k3y");
}

}  // namespace
}  // namespace http

// Tests of the call engine's tags, starts, events and postback input limits. Conversions are in
// conversion_test.cc, the router in router_test.cc.
#include "engine/engine.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "config/snapshot.h"
#include "core/tag_filter.h"

namespace engine {
namespace {

constexpr Id kAccountId = 1;
constexpr Id kOtherAccountId = 2;
constexpr Id kCampaignId = 10;
constexpr Id kPublisherId = 20;
constexpr Id kOtherPublisherId = 21;
constexpr Id kBuyerA = 30;
constexpr Id kBuyerB = 31;
constexpr Id kForeignBuyer = 90;  // a buyer of another account
constexpr Id kNumberId = 40;
constexpr core::Millis kT0 = 1'700'000'000'000;
constexpr char kCaller[] = "+15551234567";

// One account with a campaign (buyers A and B), a tracking number with tags, and a buyer of
// another account. With `postback_group`, the campaign has a postback conversion group, so an
// ended call waits (status ended) instead of completing at once.
class World {
 public:
  explicit World(bool carry_over_postback_tags = true, bool postback_group = false) {
    config::Account& account = snapshot_.accounts[kAccountId];
    account.id = kAccountId;
    account.name = "acme";
    account.carry_over_postback_tags = carry_over_postback_tags;
    snapshot_.accounts[kOtherAccountId].id = kOtherAccountId;
    AddBuyer(kBuyerA, kAccountId);
    AddBuyer(kBuyerB, kAccountId);
    AddBuyer(kForeignBuyer, kOtherAccountId);
    config::Campaign& campaign = snapshot_.campaigns[kCampaignId];
    campaign.id = kCampaignId;
    campaign.account_id = kAccountId;
    campaign.buyers = {{kBuyerA, 1, 1}, {kBuyerB, 2, 1}};
    config::Number& number = snapshot_.numbers[kNumberId];
    number.id = kNumberId;
    number.account_id = kAccountId;
    number.number = "+18005550100";
    number.campaign_id = kCampaignId;
    number.publisher_id = kPublisherId;
    number.tags = {{"source", "google"}, {"ad_group", "brand"}};
    if (postback_group) {
      config::ConversionGroup& group = snapshot_.conversion_groups[50];
      group.id = 50;
      group.account_id = kAccountId;
      group.campaign_id = kCampaignId;
      group.type = config::ConversionType::kPostbackValue;
    }
    snapshot_.Index();
  }

  Context Ctx(core::Millis now = kT0) const {
    return Context{snapshot_, snapshot_.accounts.at(kAccountId), now};
  }
  const config::Campaign* campaign() const { return &snapshot_.campaigns.at(kCampaignId); }
  const config::Number* number() const { return &snapshot_.numbers.at(kNumberId); }
  // A webhook group of the campaign with one request.
  void AddWebhookGroup(Id id, std::string trigger, std::string_view matches = "") {
    config::WebhookGroup& g = snapshot_.webhook_groups[id];
    g.id = id;
    g.account_id = kAccountId;
    g.campaign_id = kCampaignId;
    g.trigger = std::move(trigger);
    g.matches = *core::TagFilter::Parse(matches);
    g.requests.resize(1);
    snapshot_.Index();
  }

 private:
  void AddBuyer(Id id, Id account_id) {
    config::Buyer& buyer = snapshot_.buyers[id];
    buyer.id = id;
    buyer.account_id = account_id;
    buyer.destination = "+18005550199";
  }

  config::Snapshot snapshot_;
};

// "key=value/source", with "+carried" for carried tags, joined by "; ".
std::string Describe(const std::vector<Tag>& tags) {
  std::string s;
  for (const Tag& t : tags) {
    if (!s.empty()) s += "; ";
    s += t.key + "=" + t.value + "/" + ToString(t.source) + (t.carried ? "+carried" : "");
  }
  return s;
}

// The effects' triggers, joined by ",".
std::string Triggers(const Outcome& out) {
  std::string s;
  for (const Effect& e : out.effects) s += (s.empty() ? "" : ",") + e.trigger;
  return s;
}

// A call started at kT0 through the tracking number, from kCaller.
Call Start(const World& w, Outcome* out = nullptr, Params edge_tags = {}) {
  StartInput in;
  in.campaign = w.campaign();
  in.number = w.number();
  in.caller_number = kCaller;
  in.edge_tags = std::move(edge_tags);
  in.at = kT0;
  Outcome ignored;
  return StartCall("uuid-1", in, std::nullopt, w.Ctx(), out != nullptr ? *out : ignored);
}

Event Routed(core::Millis at, std::optional<Id> buyer = kBuyerA) {
  Event e;
  e.type = EventType::kRouted;
  e.at = at;
  e.buyer_id = buyer;
  return e;
}

Event Answered(core::Millis at) {
  Event e;
  e.type = EventType::kAnswered;
  e.at = at;
  return e;
}

Event Ended(core::Millis at, std::optional<int64_t> duration = std::nullopt,
            std::string hung_up_by = "caller") {
  Event e;
  e.type = EventType::kEnded;
  e.at = at;
  e.duration_seconds = duration;
  e.hung_up_by = std::move(hung_up_by);
  return e;
}

// Applies an event that must be accepted; "error: …" in the triggers otherwise.
Outcome Apply(Call& call, const World& w, const Event& e) {
  core::Result<Outcome> r = ApplyEvent(call, e, w.Ctx(e.at));
  if (!r) {
    Outcome failed;
    failed.effects.push_back(Effect{"error: " + r.error().message, e.at});
    return failed;
  }
  return *std::move(r);
}

// Timestamps relative to kT0, "-" when unset.
std::string Rel(const std::optional<core::Millis>& at) {
  return at ? std::to_string(*at - kT0) : "-";
}

// The call's lifecycle fields in one line.
std::string Lifecycle(const Call& c) {
  return std::string("status=") + ToString(c.status) + " routed=" + Rel(c.routed_at) +
         " answered=" + Rel(c.answered_at) + " ended=" + Rel(c.ended_at) +
         " buyer=" + (c.buyer_id ? std::to_string(*c.buyer_id) : "-") +
         " duration=" + (c.duration_seconds ? std::to_string(*c.duration_seconds) : "-");
}

// ---- ValidateTag.

TEST(ValidateTagTest, AcceptsAndRefuses) {
  struct Case {
    std::string key;
    std::string value;
    bool want_ok;
  };
  const std::string k255(255, 'k');
  const std::string k256(256, 'k');
  std::string e254;  // 127 two-byte characters
  for (int i = 0; i < 127; ++i) e254 += "\xc3\xa9";
  const Case kCases[] = {
      {"disposition", "sold", true},
      {"a", "", true},  // an empty value is a valid tag (the postback layer drops it)
      {k255, "v", true},
      {"k", std::string(255, 'v'), true},
      {e254 + "a", "v", true},          // 255 bytes of UTF-8
      {e254 + "\xc3\xa9", "v", false},  // 256 bytes
      {"k", e254 + "\xc3\xa9", false},
      {"", "v", false},
      {k256, "v", false},
      {"k", std::string(256, 'v'), false},
      {"k\xc3\xa9y", "caf\xc3\xa9", true},  // multi-byte UTF-8 in key and value
      {"emoji", "\xf0\x9f\x93\x9e", true},
      {"k\xff", "v", false},  // not UTF-8
      {"k", "v\xff", false},
      {"k", "\xc3", false},              // truncated sequence
      {"k", "\xc0\xaf", false},          // overlong encoding
      {"k", "\xed\xa0\x80", false},      // UTF-16 surrogate
      {"k", "\xf4\x90\x80\x80", false},  // beyond U+10FFFF
      {"a\tb", "v", false},              // control characters in keys
      {"a\nb", "v", false},
      {std::string("a\0b", 3), "v", false},
      {"a\x1f", "v", false},
      {"a\x7f", "v", false},
      {"a[b", "v", false},  // brackets, commas, colons: filter and token syntax
      {"a]b", "v", false},
      {"a,b", "v", false},
      {"a:b", "v", false},
      {"a b", "v", true},                // a space is printable
      {"k", "line1\nline2\ttab", true},  // values are free text
      {"k", "a,b:[c]", true},
      {"system_buyer_id", "1", false},  // reserved
      {"system_", "1", false},
      {"system_anything", "1", false},
      {"caller_number", "+15550000000", false},
      {"systemx", "1", true},
      {"my_system_tag", "1", true},
      {"caller_number2", "1", true},
      {"buyer_id", "1", true},
  };
  for (const Case& c : kCases) {
    const core::Result<void> r = ValidateTag(c.key, c.value);
    const bool refused_well = !r && r.error().code == core::ErrorCode::kInvalidArgument;
    EXPECT_TRUE(c.want_ok ? r.has_value() : refused_well)
        << "case key \"" << c.key << "\" (" << c.key.size() << " bytes) value \"" << c.value
        << "\" (" << c.value.size()
        << " bytes): " << (r ? std::string("accepted") : "refused: " + r.error().message);
  }
}

// A NUL byte in a value is refused, naming the tag (PostgreSQL takes text as C strings: it would
// end the value there, or make a tag array malformed).
TEST(ValidateTagTest, RefusesANulByteInAValue) {
  for (const std::string& value :
       {std::string("a\0b", 3), std::string("\0", 1), std::string("ab\0", 3)}) {
    const core::Result<void> r = ValidateTag("disposition", value);
    ASSERT_FALSE(r.has_value()) << value.size();
    EXPECT_EQ(r.error().code, core::ErrorCode::kInvalidArgument);
    EXPECT_EQ(r.error().message, "tag disposition: values must not contain a NUL byte");
    EXPECT_EQ(r.error().field, "disposition");
  }
  // A key with a control character is refused for that before any message names it.
  const core::Result<void> r = ValidateTag(std::string("a\0b", 3), std::string(300, 'v'));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message.find('\0'), std::string::npos) << r.error().message;
}

// Keys are printable UTF-8: the C1 controls U+0080-U+009F (two bytes in UTF-8) and the
// line/paragraph separators are refused like ASCII controls.
TEST(ValidateTagTest, RefusesNonAsciiControlCharactersInKeys) {
  // U+0080, U+0085 (next line), U+009F, U+2028, U+2029; the last one starts the key.
  const std::string kKeys[] = {"a\xc2\x80",     "a\xc2\x85",     "a\xc2\x9f",
                               "a\xe2\x80\xa8", "a\xe2\x80\xa9", "\xc2\x85z"};
  for (const std::string& key : kKeys) {
    EXPECT_FALSE(ValidateTag(key, "v").has_value()) << "case key \"" << key << "\"";
  }
}

// ---- AddTag.

TEST(AddTagTest, DedupesExactPairsAndKeepsOrder) {
  struct Step {
    std::string key;
    std::string value;
    bool want_added;
  };
  const Step kSteps[] = {
      {"state", "CA", true}, {"state", "NY", true},  {"state", "CA", false},
      {"State", "CA", true},  // keys are case-sensitive
      {"state", "ca", true},  // ... and so are values
      {"city", "CA", true},  {"state", "NY", false}, {"state", "", true},
      {"state", "", false},  {"state", "TX", true},
  };
  Call call;
  int i = 0;
  for (const Step& s : kSteps) {
    Outcome out;
    AddTag(call, s.key, s.value, TagSource::kPostback, kT0 + i, out);
    const std::string want =
        s.want_added ? s.key + "=" + s.value + "/postback changed=1" : " changed=0";
    EXPECT_EQ(Describe(out.new_tags) + " changed=" + std::to_string(out.changed), want)
        << "step " << i << ": " << s.key << "=" << s.value;
    ++i;
  }
  EXPECT_EQ(call.TagValues("state"), (std::vector<std::string>{"CA", "NY", "ca", "", "TX"}));
  EXPECT_EQ(call.tags.size(), 7u);
  EXPECT_EQ(call.tags[1].at, kT0 + 1);  // the time of the first add
}

// ---- StartCall.

TEST(StartCallTest, AddsSystemNumberAndEdgeTags) {
  World w;
  Outcome out;
  Call call = Start(w, &out, {{"utm_source", "fb"}, {"utm_source", "ig"}, {"zip", "90210"}});
  EXPECT_EQ(Describe(call.tags),
            "system_campaign_id=10/system; system_publisher_id=20/system; "
            "system_number_id=40/system; caller_number=+15551234567/system; "
            "ad_group=brand/number; source=google/number; utm_source=fb/edge; "
            "utm_source=ig/edge; zip=90210/edge");
  EXPECT_EQ(Describe(out.new_tags), Describe(call.tags));
  EXPECT_EQ(Triggers(out), "started");
  EXPECT_EQ(out.effects[0].at, kT0);
  EXPECT_TRUE(out.changed);
  EXPECT_EQ(out.timer, Outcome::Timer::kKeep);
  EXPECT_EQ(call.uuid, "uuid-1");
  EXPECT_EQ(call.account_id, kAccountId);
  EXPECT_EQ(call.campaign_id, kCampaignId);
  EXPECT_EQ(call.publisher_id, kPublisherId);
  EXPECT_EQ(call.number_id, kNumberId);
  EXPECT_EQ(call.number, "+18005550100");
  EXPECT_EQ(call.caller_number, kCaller);
  EXPECT_EQ(call.started_at, kT0);
  EXPECT_FALSE(call.repeat);
  EXPECT_EQ(Lifecycle(call), "status=started routed=- answered=- ended=- buyer=- duration=-");
  EXPECT_EQ(call.conversion.state, ConversionState::kPending);
  for (const Tag& t : call.tags) EXPECT_EQ(t.at, kT0) << t.key;
}

TEST(StartCallTest, Variants) {
  struct Case {
    std::string name;
    bool through_number;
    std::optional<Id> publisher_id;
    std::string caller;
    Params edge_tags;
    std::string want_tags;
  };
  const Case kCases[] = {
      {"no number, explicit publisher",
       false,
       kOtherPublisherId,
       kCaller,
       {},
       "system_campaign_id=10/system; system_publisher_id=21/system; "
       "caller_number=+15551234567/system"},
      {"explicit publisher overrides the number's",
       true,
       kOtherPublisherId,
       kCaller,
       {},
       "system_campaign_id=10/system; system_publisher_id=21/system; "
       "system_number_id=40/system; caller_number=+15551234567/system; "
       "ad_group=brand/number; source=google/number"},
      {"anonymous caller: no caller_number tag",
       true,
       std::nullopt,
       "",
       {},
       "system_campaign_id=10/system; system_publisher_id=20/system; "
       "system_number_id=40/system; ad_group=brand/number; source=google/number"},
      {"no number, no publisher", false, std::nullopt, "", {}, "system_campaign_id=10/system"},
      {"edge tag repeating a number tag is kept once",
       true,
       std::nullopt,
       "",
       {{"source", "google"}, {"source", "bing"}},
       "system_campaign_id=10/system; system_publisher_id=20/system; "
       "system_number_id=40/system; ad_group=brand/number; source=google/number; "
       "source=bing/edge"},
  };
  World w;
  for (const Case& c : kCases) {
    StartInput in;
    in.campaign = w.campaign();
    in.number = c.through_number ? w.number() : nullptr;
    in.publisher_id = c.publisher_id;
    in.caller_number = c.caller;
    in.edge_tags = c.edge_tags;
    in.at = kT0;
    Outcome out;
    const Call call = StartCall("u", in, std::nullopt, w.Ctx(), out);
    EXPECT_EQ(Describe(call.tags) + " | " + Triggers(out), c.want_tags + " | started")
        << "case " << c.name;
  }
}

// ---- Repeat callers.

TEST(RepeatCallerTest, CarriesTagsOfThePreviousCall) {
  PreviousCall previous;
  previous.buyer_id = kBuyerB;
  previous.tags = {
      {"system_buyer_id", "31", TagSource::kSystem, kT0 - 5000},
      {"caller_number", kCaller, TagSource::kSystem, kT0 - 5000},
      {"source", "bing", TagSource::kNumber, kT0 - 5000},
      {"utm_source", "fb", TagSource::kEdge, kT0 - 5000},
      {"bid", "12.50", TagSource::kPostback, kT0 - 4000},
      {"affiliate", "x", TagSource::kPublisher, kT0 - 4000},
      {"first_visit", "yes", TagSource::kEdge, kT0 - 9000, true},  // carried before
      {"transfer", "+15550001111", TagSource::kPostback, kT0 - 9000, true},
      {"utm_source", "fb", TagSource::kEdge, kT0 - 3000},  // twice in the input
      {"zip", "90210", TagSource::kEdge, kT0 - 5000},      // already on the call
  };
  struct Case {
    bool carry_over_postback_tags;
    std::string want_carried;
  };
  const Case kCases[] = {
      {true,
       "utm_source=fb/edge+carried; bid=12.50/postback+carried; affiliate=x/publisher+carried; "
       "first_visit=yes/edge+carried; transfer=+15550001111/postback+carried"},
      {false,
       "utm_source=fb/edge+carried; affiliate=x/publisher+carried; "
       "first_visit=yes/edge+carried"},
  };
  for (const Case& c : kCases) {
    World w(c.carry_over_postback_tags);
    StartInput in;
    in.campaign = w.campaign();
    in.number = w.number();
    in.caller_number = kCaller;
    in.edge_tags = {{"zip", "90210"}};
    in.at = kT0;
    Outcome out;
    const Call call = StartCall("u", in, previous, w.Ctx(), out);
    std::vector<Tag> carried;
    for (const Tag& t : call.tags) {
      if (t.carried) {
        carried.push_back(t);
        EXPECT_EQ(t.at, kT0) << t.key;
      }
    }
    const std::string own =
        "system_campaign_id=10/system; system_publisher_id=20/system; "
        "system_number_id=40/system; caller_number=+15551234567/system; "
        "ad_group=brand/number; source=google/number; zip=90210/edge";
    EXPECT_EQ(Describe(call.tags), own + "; " + c.want_carried)
        << "case carry_over_postback_tags=" << c.carry_over_postback_tags;
    EXPECT_EQ(Describe(carried), c.want_carried)
        << "case carry_over_postback_tags=" << c.carry_over_postback_tags;
    EXPECT_EQ(Describe(out.new_tags), Describe(call.tags))
        << "case carry_over_postback_tags=" << c.carry_over_postback_tags;
    EXPECT_TRUE(call.repeat);
    EXPECT_EQ(Triggers(out), "started");
  }
}

// A previous call that holds nearly the most tags a call may: its most recent ones are carried,
// up to kMaxTagsAfterCarryOver on the new call, so that the new call keeps room for its own
// postbacks (a conversion among them).
TEST(RepeatCallerTest, CarriesTheMostRecentTagsWhileTheCallKeepsRoom) {
  PreviousCall previous;
  for (int i = 0; i < 1990; ++i) {
    previous.tags.push_back(
        Tag{"t", std::to_string(i), TagSource::kPostback, kT0 - 9000 + i, i < 100});
  }
  World w(/*carry_over_postback_tags=*/true, /*postback_group=*/true);
  StartInput in;
  in.campaign = w.campaign();
  in.number = w.number();
  in.caller_number = kCaller;
  in.at = kT0;
  Outcome out;
  Call call = StartCall("u", in, previous, w.Ctx(), out);
  ASSERT_EQ(call.tags.size(), kMaxTagsAfterCarryOver);
  std::vector<std::string> carried = call.TagValues("t");
  ASSERT_FALSE(carried.empty());
  EXPECT_EQ(carried.front(), std::to_string(1990 - carried.size()));  // the most recent ones,
  EXPECT_EQ(carried.back(), "1989");                                  // in their order
  // The buyer's conversion, with its tags, still fits.
  Params postback{{"value", "25.00"}};
  for (int i = 0; i < 99; ++i) postback.emplace_back("p", std::to_string(i));
  core::Result<PostbackResult> r = ApplyPostback(call, postback, w.Ctx(kT0 + 1000));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, "conversion recorded");
}

TEST(RepeatCallerTest, PreviousCallWithoutTagsStillMakesARepeat) {
  World w;
  StartInput in;
  in.campaign = w.campaign();
  in.caller_number = kCaller;
  in.at = kT0;
  Outcome out;
  const Call call = StartCall("u", in, PreviousCall{}, w.Ctx(), out);
  EXPECT_TRUE(call.repeat);
  EXPECT_EQ(Describe(call.tags), "system_campaign_id=10/system; caller_number=+15551234567/system");
}

// ---- Events.

TEST(ApplyEventTest, LifecycleEmitsEffectsInOrder) {
  World w;
  Outcome started;
  Call call = Start(w, &started);
  struct Step {
    Event event;
    std::string want_triggers;
    std::string want_new_tags;
    std::string want_lifecycle;
  };
  const Step kSteps[] = {
      {Routed(kT0 + 1000), "routed", "system_buyer_id=30/system",
       "status=routed routed=1000 answered=- ended=- buyer=30 duration=-"},
      {Answered(kT0 + 3000), "answered", "",
       "status=answered routed=1000 answered=3000 ended=- buyer=30 duration=-"},
      {Ended(kT0 + 63'500), "ended,completed,not_converted", "",
       "status=completed routed=1000 answered=3000 ended=63500 buyer=30 duration=60"},
  };
  std::string all = Triggers(started);
  for (const Step& s : kSteps) {
    const Outcome out = Apply(call, w, s.event);
    EXPECT_EQ(Triggers(out) + " | " + Describe(out.new_tags) + " | " + Lifecycle(call),
              s.want_triggers + " | " + s.want_new_tags + " | " + s.want_lifecycle)
        << "step " << static_cast<int>(s.event.type);
    EXPECT_TRUE(out.changed);
    for (const Effect& e : out.effects) EXPECT_EQ(e.at, s.event.at) << e.trigger;
    all += "," + Triggers(out);
  }
  EXPECT_EQ(all, "started,routed,answered,ended,completed,not_converted");
  EXPECT_EQ(call.hung_up_by, "caller");
}

TEST(ApplyEventTest, EachEventHappensOnce) {
  struct Case {
    std::string name;
    Event first;
    Event repeat;
  };
  const Case kCases[] = {
      {"routed", Routed(kT0 + 1000), Routed(kT0 + 1000)},
      {"routed to another buyer", Routed(kT0 + 1000), Routed(kT0 + 2000, kBuyerB)},
      {"answered", Answered(kT0 + 1000), Answered(kT0 + 1000)},
      {"answered later", Answered(kT0 + 1000), Answered(kT0 + 5000)},
      {"ended", Ended(kT0 + 9000), Ended(kT0 + 9000)},
      {"ended with other details", Ended(kT0 + 9000, 5, "buyer"), Ended(kT0 + 19000, 99, "x")},
  };
  for (bool postback_group : {false, true}) {
    World w(true, postback_group);
    for (const Case& c : kCases) {
      Call call = Start(w);
      const Outcome first = Apply(call, w, c.first);
      const std::string before = Lifecycle(call) + " " + Describe(call.tags) + " " +
                                 ToString(call.conversion.state) + " " + call.hung_up_by;
      core::Result<Outcome> again = ApplyEvent(call, c.repeat, w.Ctx(c.repeat.at));
      const std::string after = Lifecycle(call) + " " + Describe(call.tags) + " " +
                                ToString(call.conversion.state) + " " + call.hung_up_by;
      EXPECT_TRUE(first.changed && again && !again->changed && again->effects.empty() &&
                  again->new_tags.empty() && again->timer == Outcome::Timer::kKeep &&
                  before == after)
          << "case " << c.name << " (postback group " << postback_group
          << "): " << (again ? Triggers(*again) : again.error().message) << "; before " << before
          << "; after " << after;
    }
  }
}

TEST(ApplyEventTest, RoutedRequiresABuyerOfTheAccount) {
  struct Case {
    std::string name;
    std::optional<Id> buyer;
  };
  const Case kCases[] = {
      {"no buyer", std::nullopt},
      {"unknown buyer", 999},
      {"buyer of another account", kForeignBuyer},
  };
  World w;
  for (const Case& c : kCases) {
    Call call = Start(w);
    const std::string before = Lifecycle(call) + " " + Describe(call.tags);
    core::Result<Outcome> r = ApplyEvent(call, Routed(kT0 + 1000, c.buyer), w.Ctx(kT0 + 1000));
    EXPECT_TRUE(!r && r.error().code == core::ErrorCode::kInvalidArgument &&
                r.error().field == "buyer_id" &&
                Lifecycle(call) + " " + Describe(call.tags) == before)
        << "case " << c.name << ": " << (r ? std::string("accepted") : r.error().message);
    // A refused routed event does not count: a good one is still accepted.
    EXPECT_EQ(Triggers(Apply(call, w, Routed(kT0 + 2000, kBuyerB))), "routed") << c.name;
    // Bad input is refused even when the event repeats, and still changes nothing.
    const std::string routed = Lifecycle(call) + " " + Describe(call.tags);
    r = ApplyEvent(call, Routed(kT0 + 3000, c.buyer), w.Ctx(kT0 + 3000));
    EXPECT_TRUE(!r && r.error().field == "buyer_id" &&
                Lifecycle(call) + " " + Describe(call.tags) == routed)
        << "case " << c.name
        << " repeated: " << (r ? "accepted, " + Triggers(*r) : r.error().message);
  }
}

TEST(ApplyEventTest, OutOfOrderEventsNeverMoveStatusBackward) {
  struct Case {
    std::string name;
    std::vector<Event> events;
    std::string want_statuses;  // after each event
    std::string want_triggers;  // all events' effects
    std::string want_lifecycle;
  };
  // The campaign has a postback group: an ended call waits with status "ended".
  const Case kCases[] = {
      {"ended before answered",
       {Ended(kT0 + 60'000), Answered(kT0 + 2000)},
       "ended,ended",
       "ended,answered",
       // The late answer gives the call its duration.
       "status=ended routed=- answered=2000 ended=60000 buyer=- duration=58"},
      {"answered before routed",
       {Answered(kT0 + 2000), Routed(kT0 + 1000)},
       "answered,answered",
       "answered,routed",
       "status=answered routed=1000 answered=2000 ended=- buyer=30 duration=-"},
      {"ended, routed, answered",
       {Ended(kT0 + 60'000, 42), Routed(kT0 + 1000), Answered(kT0 + 2000)},
       "ended,ended,ended",
       "ended,routed,answered",
       "status=ended routed=1000 answered=2000 ended=60000 buyer=30 duration=42"},
      {"retries in between",
       {Routed(kT0 + 1000), Ended(kT0 + 60'000), Routed(kT0 + 1000, kBuyerB), Answered(kT0 + 2000),
        Ended(kT0 + 61'000), Answered(kT0 + 3000)},
       "routed,ended,ended,ended,ended,ended",
       "routed,ended,answered",
       "status=ended routed=1000 answered=2000 ended=60000 buyer=30 duration=58"},
  };
  World w(true, /*postback_group=*/true);
  for (const Case& c : kCases) {
    Call call = Start(w);
    std::string statuses;
    std::string triggers;
    for (const Event& e : c.events) {
      const Outcome out = Apply(call, w, e);
      statuses += std::string(statuses.empty() ? "" : ",") + ToString(call.status);
      if (!out.effects.empty()) triggers += (triggers.empty() ? "" : ",") + Triggers(out);
    }
    EXPECT_EQ(statuses + " | " + triggers + " | " + Lifecycle(call),
              c.want_statuses + " | " + c.want_triggers + " | " + c.want_lifecycle)
        << "case " << c.name;
  }
}

// `routed` after `answered` and `ended` (their retries got through first): the webhook groups of
// those triggers that only the buyer's tag makes fit get their deliveries now, as they would
// have in order; a group that fitted already had its own, and gets none again.
TEST(ApplyEventTest, ALateRouteSendsTheWebhooksTheBuyersTagMakesFit) {
  World w;
  w.AddWebhookGroup(60, "answered", "system_buyer_id:31");  // buyer B's answered ping
  w.AddWebhookGroup(61, "answered");                        // every call's
  w.AddWebhookGroup(62, "ended", "system_buyer_id:31");
  w.AddWebhookGroup(63, "answered", "system_buyer_id:30");  // buyer A's: not this call's
  w.AddWebhookGroup(64, "routed", "system_buyer_id:31");
  auto planned = [](const Outcome& out) {
    std::string s;
    for (const PlannedDelivery& d : out.deliveries) {
      s += (s.empty() ? "" : ",") + std::to_string(d.group_id) + ":" + d.trigger;
    }
    return s;
  };
  Call call = Start(w);
  Outcome answered = Apply(call, w, Answered(kT0 + 2000));
  PlanDeliveries(call, w.Ctx(), answered);
  EXPECT_EQ(planned(answered), "61:answered");
  Outcome routed = Apply(call, w, Routed(kT0 + 1000, kBuyerB));
  PlanDeliveries(call, w.Ctx(), routed);
  EXPECT_EQ(planned(routed), "60:answered,64:routed");
  // After the end as well: the ended group too.
  Call ended_first = Start(w);
  Apply(ended_first, w, Answered(kT0 + 2000));
  Apply(ended_first, w, Ended(kT0 + 9000));
  Outcome late = Apply(ended_first, w, Routed(kT0 + 1000, kBuyerB));
  PlanDeliveries(ended_first, w.Ctx(), late);
  EXPECT_EQ(planned(late), "60:answered,62:ended,64:routed");
  // A route in order plans only its own trigger's.
  Call in_order = Start(w);
  Outcome first = Apply(in_order, w, Routed(kT0 + 1000, kBuyerB));
  PlanDeliveries(in_order, w.Ctx(), first);
  EXPECT_EQ(planned(first), "64:routed");
}

TEST(ApplyEventTest, LateEventsAfterCompletionKeepStatusCompleted) {
  World w;  // no conversion group: the call completes when it ends
  Call call = Start(w);
  EXPECT_EQ(Triggers(Apply(call, w, Ended(kT0 + 9000))), "ended,completed,not_converted");
  EXPECT_EQ(Triggers(Apply(call, w, Routed(kT0 + 1000))), "routed");
  EXPECT_EQ(Triggers(Apply(call, w, Answered(kT0 + 2000))), "answered");
  EXPECT_EQ(Lifecycle(call),
            "status=completed routed=1000 answered=2000 ended=9000 buyer=30 duration=7");
  EXPECT_EQ(call.conversion.state, ConversionState::kNotConverted);
}

// Reported times are put in the call's order: a start or an event ahead of the clock is taken
// as now (nothing is held for a time to come), an event before the start as the start.
TEST(ApplyEventTest, ReportedTimesAreNeverAheadOfTheClockNorBeforeTheStart) {
  World w;
  StartInput in;
  in.campaign = w.campaign();
  in.number = w.number();
  in.caller_number = kCaller;
  in.at = kT0 + 3'600'000;
  Outcome started;
  Call call = StartCall("uuid-1", in, std::nullopt, w.Ctx(kT0), started);
  EXPECT_EQ(call.started_at, kT0);
  EXPECT_EQ(started.effects.back().at, kT0);
  ASSERT_TRUE(ApplyEvent(call, Answered(kT0 - 60'000), w.Ctx(kT0 + 1000)));
  EXPECT_EQ(call.answered_at, kT0);
  ASSERT_TRUE(ApplyEvent(call, Ended(kT0 + 3'600'000), w.Ctx(kT0 + 5000)));
  EXPECT_EQ(call.ended_at, kT0 + 5000);
  EXPECT_EQ(call.duration_seconds, 5);
}

TEST(ApplyEventTest, Duration) {
  struct Case {
    std::string name;
    std::optional<core::Millis> answered;  // relative to kT0
    core::Millis ended;                    // relative to kT0
    std::optional<int64_t> given;
    std::string want;  // duration, then ended_at relative to kT0
  };
  const Case kCases[] = {
      {"from answered_at", 5000, 65'000, std::nullopt, "60 65000"},
      {"whole seconds, rounded down", 5000, 65'999, std::nullopt, "60 65999"},
      {"under a second", 5000, 5999, std::nullopt, "0 5999"},
      {"given wins", 5000, 65'000, 42, "42 65000"},
      {"given zero", 5000, 65'000, 0, "0 65000"},
      {"given without answer", std::nullopt, 65'000, 30, "30 65000"},
      {"never answered", std::nullopt, 65'000, std::nullopt, "0 65000"},
      // Reported in order, timed out of order (the edge's clocks disagree): the end is put at
      // the answer, never before it.
      {"answered after ended (clock skew)", 70'000, 65'000, std::nullopt, "0 70000"},
      {"ended before started: clamped to start", std::nullopt, -5000, std::nullopt, "0 0"},
      // An answered_at before the start would lengthen the call (and convert a duration group).
      {"answered before started: clamped to start", -3'600'000, 5000, std::nullopt, "5 5000"},
  };
  World w(true, /*postback_group=*/true);
  for (const Case& c : kCases) {
    Call call = Start(w);
    if (c.answered) Apply(call, w, Answered(kT0 + *c.answered));
    const Outcome out = Apply(call, w, Ended(kT0 + c.ended, c.given));
    const std::string got = (call.duration_seconds ? std::to_string(*call.duration_seconds) : "-") +
                            " " + Rel(call.ended_at);
    EXPECT_EQ(got, c.want) << "case " << c.name;
    EXPECT_TRUE(!out.effects.empty() && out.effects[0].trigger == "ended" &&
                out.effects[0].at == *call.ended_at)
        << "case " << c.name << ": " << Triggers(out);
  }
}

TEST(ApplyEventTest, RecordsHungUpBy) {
  World w;
  Call call = Start(w);
  Apply(call, w, Ended(kT0 + 1000, std::nullopt, "buyer"));
  EXPECT_EQ(call.hung_up_by, "buyer");
}

// ---- Postback input.

TEST(ApplyPostbackTest, RefusesBadInputAndChangesNothing) {
  struct Case {
    std::string name;
    Params params;
    bool want_ok;
  };
  Params p100;
  for (int i = 0; i < 100; ++i) p100.emplace_back("k" + std::to_string(i), "v");
  Params p101 = p100;
  p101.emplace_back("k100", "v");
  Params p101_bare = p100;
  p101_bare.emplace_back("sale", "");  // bare parameters count too
  const Case kCases[] = {
      {"100 params", p100, true},
      {"101 params", p101, false},
      {"101 params, one bare", p101_bare, false},
      {"reserved key after a good tag", {{"note", "x"}, {"system_buyer_id", "31"}}, false},
      {"caller_number", {{"note", "x"}, {"caller_number", "+15550000000"}}, false},
      {"empty key", {{"note", "x"}, {"", "v"}}, false},
      {"long value", {{"note", "x"}, {"k", std::string(256, 'v')}}, false},
      {"bad UTF-8", {{"note", "x"}, {"k", "\xff"}}, false},
      {"control character in key", {{"note", "x"}, {"a\x01", "v"}}, false},
  };
  World w(true, /*postback_group=*/true);
  for (const Case& c : kCases) {
    Call call = Start(w);
    const size_t tags_before = call.tags.size();
    core::Result<PostbackResult> r = ApplyPostback(call, c.params, w.Ctx(kT0 + 1000));
    const bool ok_as_wanted =
        c.want_ok
            ? r && r->status == "tags applied" && call.tags.size() == tags_before + c.params.size()
            : !r && r.error().code == core::ErrorCode::kInvalidArgument &&
                  call.tags.size() == tags_before && call.early_postbacks.empty();
    EXPECT_TRUE(ok_as_wanted) << "case " << c.name << ": "
                              << (r ? r->status : "refused: " + r.error().message) << ", "
                              << call.tags.size() - tags_before << " tags added";
  }
}

TEST(ApplyPostbackTest, EmptyValuedParamsAddNoTag) {
  World w(true, /*postback_group=*/true);
  Call call = Start(w);
  const size_t tags_before = call.tags.size();
  core::Result<PostbackResult> r = ApplyPostback(
      call, {{"a", "1"}, {"flag", ""}, {"a", "2"}, {"a", "1"}, {"b", ""}}, w.Ctx(kT0 + 1000));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, "tags applied");
  EXPECT_EQ(r->tag_values, (Params{{"a", "1"}, {"a", "2"}}));  // as applied: a pair once
  EXPECT_EQ(Describe(r->outcome.new_tags), "a=1/postback; a=2/postback");
  EXPECT_EQ(call.tags.size(), tags_before + 2);
  EXPECT_TRUE(call.TagValues("flag").empty());
  EXPECT_EQ(r->outcome.new_tags[0].at, kT0 + 1000);
  EXPECT_TRUE(r->outcome.changed);
  EXPECT_TRUE(r->outcome.effects.empty());
}

TEST(ApplyPostbackTest, RepeatedTagsChangeNothing) {
  World w(true, /*postback_group=*/true);
  Call call = Start(w);
  ASSERT_TRUE(ApplyPostback(call, {{"a", "1"}}, w.Ctx(kT0 + 1000)));
  core::Result<PostbackResult> r = ApplyPostback(call, {{"a", "1"}}, w.Ctx(kT0 + 2000));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, "tags applied");
  EXPECT_FALSE(r->outcome.changed);
  EXPECT_TRUE(r->outcome.new_tags.empty());
}

// The call's limit counts the tag values a request would really add: a value the call holds,
// an empty one (`note=`, a bare keyword) and one the request repeats add nothing, so they never
// meet the limit. Buyer postbacks and publisher data writing count alike.
TEST(TagLimitTest, CountsOnlyTheValuesARequestAdds) {
  struct Case {
    std::string name;
    size_t room;  // the call holds kMaxTagsPerCall - room values, one of them held=1
    Params params;
    bool want_ok;
    size_t want_added;
  };
  Params many_held;  // 100 parameters, all values the call holds
  for (int i = 0; i < 100; ++i) many_held.emplace_back("held", "1");
  auto fresh = [](size_t n, Params extra = {}) {
    Params p;
    for (size_t i = 0; i < n; ++i) p.emplace_back("k" + std::to_string(i), "v");
    for (auto& kv : extra) p.push_back(std::move(kv));
    return p;
  };
  const Case kCases[] = {
      {"full: a value the call holds", 0, {{"held", "1"}}, true, 0},
      {"full: an empty value", 0, {{"note", ""}}, true, 0},
      {"full: nothing new", 0, {{"held", "1"}, {"note", ""}, {"flag", ""}}, true, 0},
      {"full: 100 values the call holds", 0, many_held, true, 0},
      {"full: one new value", 0, {{"b", "1"}}, false, 0},
      {"full: a new value of a held tag", 0, {{"held", "2"}}, false, 0},
      {"one left: a new value and an empty one", 1, {{"b", "1"}, {"note", ""}}, true, 1},
      {"one left: one new value twice", 1, {{"b", "1"}, {"b", "1"}}, true, 1},
      {"one left: two new values", 1, {{"b", "1"}, {"b", "2"}}, false, 0},
      {"ten left: ten new", 10, fresh(10), true, 10},
      {"ten left: ten new and a held one", 10, fresh(10, {{"held", "1"}}), true, 10},
      {"ten left: eleven new", 10, fresh(11), false, 0},
      {"ten left: a hundred new", 10, fresh(100), false, 0},
  };
  World w(true, /*postback_group=*/true);
  for (const Case& c : kCases) {
    Call full = Start(w);
    full.tags.push_back(Tag{"held", "1"});
    while (full.tags.size() < kMaxTagsPerCall - c.room) {
      full.tags.push_back(Tag{"filler", std::to_string(full.tags.size())});
    }
    const size_t before = full.tags.size();
    Call call = full;
    core::Result<PostbackResult> r = ApplyPostback(call, c.params, w.Ctx(kT0 + 1000));
    EXPECT_TRUE(c.want_ok ? r && call.tags.size() == before + c.want_added
                          : !r && r.error().code == core::ErrorCode::kUnprocessable &&
                                call.tags.size() == before)
        << "postback, " << c.name << ": "
        << (r ? r->status + ", " + std::to_string(call.tags.size() - before) + " added"
              : "refused: " + r.error().message);
    call = full;
    core::Result<Outcome> p = ApplyPublisherTags(call, c.params, kPublisherId, w.Ctx(kT0 + 1000));
    EXPECT_TRUE(c.want_ok ? p && call.tags.size() == before + c.want_added
                          : !p && p.error().code == core::ErrorCode::kUnprocessable &&
                                call.tags.size() == before)
        << "data writing, " << c.name << ": "
        << (p ? std::to_string(call.tags.size() - before) + " added"
              : "refused: " + p.error().message);
  }
}

}  // namespace
}  // namespace engine

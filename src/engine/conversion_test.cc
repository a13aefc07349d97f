// Tests of conversions: the call's group, duration groups, postback groups (posted value and
// trigger keyword), the postback wait and its deadline, early and late postbacks, and the race
// between a deadline and a conversion.
#include "engine/conversion.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "config/snapshot.h"
#include "core/money.h"
#include "core/payout_modifier.h"
#include "core/tag_filter.h"
#include "engine/engine.h"

namespace engine {
namespace {

using config::ConversionGroup;
using config::ConversionType;

constexpr Id kAccountId = 1;
constexpr Id kCampaignId = 10;
constexpr Id kOtherCampaignId = 11;
constexpr Id kPublisherId = 20;
constexpr Id kBuyerA = 30;
constexpr Id kBuyerB = 31;
constexpr Id kNumberId = 40;
constexpr core::Millis kT0 = 1'700'000'000'000;
constexpr core::Millis kRouted = kT0 + 1000;
constexpr core::Millis kAnswered = kT0 + 10'000;
constexpr core::Millis kEnd = kT0 + 100'000;  // 90 s after the answer

core::Money M(std::string_view text) {
  core::Result<core::Money> m = core::Money::Parse(text);
  EXPECT_TRUE(m) << "money " << text;
  return m ? *m : core::Money();
}

ConversionGroup Group(Id id, ConversionType type, std::string_view matches) {
  ConversionGroup g;
  g.id = id;
  g.account_id = kAccountId;
  g.campaign_id = kCampaignId;
  g.name = "group " + std::to_string(id);
  g.type = type;
  g.position = id;
  core::Result<core::TagFilter> filter = core::TagFilter::Parse(matches);
  EXPECT_TRUE(filter) << "matches " << matches;
  if (filter) g.matches = *filter;
  return g;
}

ConversionGroup DurationGroup(Id id, int64_t seconds, std::string_view revenue = "20.00",
                              std::string_view payout = "15.00", std::string_view matches = "") {
  ConversionGroup g = Group(id, ConversionType::kDuration, matches);
  g.seconds = seconds;
  g.revenue = M(revenue);
  g.payout = M(payout);
  return g;
}

ConversionGroup ValueGroup(Id id, std::string_view modifier = "", std::string_view matches = "",
                           int64_t timeout_seconds = 600) {
  ConversionGroup g = Group(id, ConversionType::kPostbackValue, matches);
  core::Result<core::PayoutModifier> m = core::PayoutModifier::Parse(modifier);
  EXPECT_TRUE(m) << "modifier " << modifier;
  if (m) g.payout_modifier = *m;
  g.postback_timeout_seconds = timeout_seconds;
  return g;
}

ConversionGroup TriggerGroup(Id id, std::string trigger, std::string_view revenue = "40.00",
                             std::string_view payout = "30.00", std::string_view matches = "") {
  ConversionGroup g = Group(id, ConversionType::kPostbackTrigger, matches);
  g.trigger = std::move(trigger);
  g.revenue = M(revenue);
  g.payout = M(payout);
  return g;
}

ConversionGroup Position(ConversionGroup g, int64_t position) {
  g.position = position;
  return g;
}

ConversionGroup OfCampaign(ConversionGroup g, Id campaign_id) {
  g.campaign_id = campaign_id;
  return g;
}

// One account with campaign 10 (buyers A and B, the given conversion groups) and a tracking
// number of publisher 20.
class World {
 public:
  explicit World(const std::vector<ConversionGroup>& groups) {
    snapshot_.accounts[kAccountId].id = kAccountId;
    for (Id id : {kBuyerA, kBuyerB}) {
      config::Buyer& b = snapshot_.buyers[id];
      b.id = id;
      b.account_id = kAccountId;
    }
    for (Id id : {kCampaignId, kOtherCampaignId}) {
      config::Campaign& c = snapshot_.campaigns[id];
      c.id = id;
      c.account_id = kAccountId;
      c.buyers = {{kBuyerA, 1, 1}, {kBuyerB, 1, 1}};
    }
    config::Number& n = snapshot_.numbers[kNumberId];
    n.id = kNumberId;
    n.account_id = kAccountId;
    n.number = "+18005550100";
    n.campaign_id = kCampaignId;
    n.publisher_id = kPublisherId;
    n.tags = {{"source", "google"}};
    for (const ConversionGroup& g : groups) snapshot_.conversion_groups[g.id] = g;
    snapshot_.Index();
  }

  Context Ctx(core::Millis now) const {
    return Context{snapshot_, snapshot_.accounts.at(kAccountId), now};
  }
  const config::Campaign* campaign() const { return &snapshot_.campaigns.at(kCampaignId); }
  const config::Number* number() const { return &snapshot_.numbers.at(kNumberId); }

 private:
  config::Snapshot snapshot_;
};

Event At(EventType type, core::Millis at) {
  Event e;
  e.type = type;
  e.at = at;
  return e;
}

// A live call: started at kT0 through the number, routed to `buyer` at kRouted, answered at
// kAnswered unless `answered` is false.
Call LiveCall(const World& w, std::optional<Id> buyer = kBuyerA, bool answered = true) {
  StartInput in;
  in.campaign = w.campaign();
  in.number = w.number();
  in.caller_number = "+15551234567";
  in.at = kT0;
  Outcome out;
  Call call = StartCall("uuid-1", in, std::nullopt, w.Ctx(kT0), out);
  if (buyer) {
    Event e = At(EventType::kRouted, kRouted);
    e.buyer_id = buyer;
    EXPECT_TRUE(ApplyEvent(call, e, w.Ctx(kRouted)));
  }
  if (answered) {
    const Event e = At(EventType::kAnswered, kAnswered);
    EXPECT_TRUE(ApplyEvent(call, e, w.Ctx(kAnswered)));
  }
  return call;
}

// Ends the call at `at` (the step runs at `at` too).
Outcome End(Call& call, const World& w, std::optional<int64_t> duration = std::nullopt,
            core::Millis at = kEnd) {
  Event e = At(EventType::kEnded, at);
  e.duration_seconds = duration;
  e.hung_up_by = "caller";
  core::Result<Outcome> r = ApplyEvent(call, e, w.Ctx(at));
  EXPECT_TRUE(r) << r.error().message;
  return r ? *std::move(r) : Outcome();
}

// A call that ended at kEnd after 90 s of talk with buyer A.
Call EndedCall(const World& w, Outcome* out = nullptr) {
  Call call = LiveCall(w);
  Outcome o = End(call, w);
  if (out != nullptr) *out = o;
  return call;
}

core::Result<PostbackResult> Post(Call& call, const World& w, const Params& params,
                                  core::Millis now) {
  return ApplyPostback(call, params, w.Ctx(now));
}

std::string Str(const std::optional<core::Money>& m) { return m ? m->ToString() : "-"; }

// The conversion fields in one line; times relative to kEnd.
std::string Conv(const Call& c) {
  auto rel = [](const std::optional<core::Millis>& t) {
    return t ? std::to_string(*t - kEnd) : std::string("-");
  };
  const Conversion& v = c.conversion;
  return std::string(ToString(c.status)) + " " + ToString(v.state) +
         " group=" + (v.group_id ? std::to_string(*v.group_id) : "-") +
         " revenue=" + Str(v.revenue) + " payout=" + Str(v.payout) +
         " late=" + (v.late ? "1" : "0") + " deadline=" + rel(v.deadline_at) +
         " decided=" + rel(v.decided_at);
}

// The effects' triggers with times relative to kEnd, then the timer: "ended@0,...
// timer=set@600000".
std::string Out(const Outcome& o) {
  std::string s;
  for (const Effect& e : o.effects) {
    s += (s.empty() ? "" : ",") + e.trigger + "@" + std::to_string(e.at - kEnd);
  }
  switch (o.timer) {
    case Outcome::Timer::kKeep:
      return s + " timer=keep";
    case Outcome::Timer::kSet:
      return s + " timer=set@" + std::to_string(o.timer_at - kEnd);
    case Outcome::Timer::kClear:
      return s + " timer=clear";
  }
  return s;
}

std::string Triggers(const std::vector<Effect>& effects) {
  std::string s;
  for (const Effect& e : effects) s += (s.empty() ? "" : ",") + e.trigger;
  return s;
}

// ---- The call's group.

TEST(GroupMatchesTest, SystemTagAliases) {
  struct Case {
    std::string matches;
    std::vector<std::pair<std::string, std::string>> tags;
    bool want;
  };
  const std::vector<std::pair<std::string, std::string>> kSystem = {
      {"system_campaign_id", "10"},
      {"system_publisher_id", "20"},
      {"system_buyer_id", "30"},
      {"system_number_id", "40"},
      {"caller_number", "+15551234567"}};
  const Case kCases[] = {
      {"", {}, true},
      {"system_buyer_id:30", kSystem, true},
      {"system_buyer_id:31", kSystem, false},
      {"system_buyer_id:30", {}, false},
      {"buyer_id:30", kSystem, true},
      {"buyer_id:31", kSystem, false},
      {"publisher_id:20", kSystem, true},
      {"publisher_id:21", kSystem, false},
      {"campaign_id:10, number_id:40", kSystem, true},
      {"campaign_id:10, number_id:41", kSystem, false},
      {"publisher_id:!=21", kSystem, true},
      {"publisher_id:!=20", kSystem, false},
      {"caller_number:~555", kSystem, true},
      {"number:+15551234567", kSystem, false},  // only the four id keys are aliases
      {"buyer_id:30", {{"system_buyer_id", "31"}, {"system_buyer_id", "30"}}, true},
      // The aliases always mean the system tags: a posted tag of the same name cannot steer
      // which group a call belongs to.
      {"publisher_id:20", {{"publisher_id", "7"}, {"system_publisher_id", "20"}}, true},
      {"publisher_id:7", {{"publisher_id", "7"}, {"system_publisher_id", "20"}}, false},
      // An alias and its system tag are one tag: their conditions are OR-ed, as any two on one
      // tag are.
      {"publisher_id:20, system_publisher_id:9", kSystem, true},
      {"system_publisher_id:9, publisher_id:20", kSystem, true},
      {"publisher_id:21, system_publisher_id:9", kSystem, false},
  };
  for (const Case& c : kCases) {
    Call call;
    for (const auto& [k, v] : c.tags) call.tags.push_back(Tag{k, v, TagSource::kSystem});
    EXPECT_EQ(GroupMatches(Group(1, ConversionType::kDuration, c.matches), call), c.want)
        << "case \"" << c.matches << "\"";
  }
}

TEST(DecideAtEndTest, FirstMatchingGroupIsTheCallsGroup) {
  struct Case {
    std::string name;
    std::vector<ConversionGroup> groups;
    Id buyer;
    std::string want;  // Conv() after the end
    std::string want_out;
  };
  const std::string kNone =
      "completed not_converted group=- revenue=- payout=- late=0 deadline=- decided=0";
  const std::string kNoneOut = "ended@0,completed@0,not_converted@0 timer=keep";
  const std::string kWaitOut = "ended@0 timer=set@600000";
  auto waiting = [](Id group) {
    return "ended awaiting_postback group=" + std::to_string(group) +
           " revenue=- payout=- late=0 deadline=600000 decided=-";
  };
  const Case kCases[] = {
      {"no groups", {}, kBuyerA, kNone, kNoneOut},
      {"no group matches", {ValueGroup(1, "", "system_buyer_id:31")}, kBuyerA, kNone, kNoneOut},
      {"group of another campaign",
       {OfCampaign(ValueGroup(1), kOtherCampaignId)},
       kBuyerA,
       kNone,
       kNoneOut},
      {"first by position",
       {Position(ValueGroup(1), 2), Position(ValueGroup(2, "", "system_buyer_id:30"), 1)},
       kBuyerA,
       waiting(2),
       kWaitOut},
      {"a later group when the first does not match",
       {Position(ValueGroup(1), 2), Position(ValueGroup(2, "", "system_buyer_id:30"), 1)},
       kBuyerB,
       waiting(1),
       kWaitOut},
      {"equal positions: lower id first",
       {Position(ValueGroup(2), 5), Position(ValueGroup(1), 5)},
       kBuyerA,
       waiting(1),
       kWaitOut},
      {"publisher_id alias",
       {ValueGroup(1, "", "publisher_id:21"), ValueGroup(2, "", "publisher_id:20")},
       kBuyerA,
       waiting(2),
       kWaitOut},
      {"buyer_id alias",
       {ValueGroup(1, "", "buyer_id:31"), ValueGroup(2, "", "buyer_id:30")},
       kBuyerA,
       waiting(2),
       kWaitOut},
      {"campaign_id and number_id aliases",
       {ValueGroup(1, "", "campaign_id:10, number_id:40")},
       kBuyerA,
       waiting(1),
       kWaitOut},
      {"number tag", {ValueGroup(1, "", "source:google")}, kBuyerA, waiting(1), kWaitOut},
      {"same key OR-ed",
       {ValueGroup(1, "", "system_buyer_id:31, system_buyer_id:30")},
       kBuyerA,
       waiting(1),
       kWaitOut},
      {"the first match is the group even when the call misses its criteria",
       {DurationGroup(1, 3600), DurationGroup(2, 0)},
       kBuyerA,
       "completed not_converted group=1 revenue=- payout=- late=0 deadline=- decided=0",
       kNoneOut},
      {"a duration group before a postback group",
       {DurationGroup(1, 60, "20.00", "15.00", "buyer_id:30"), ValueGroup(2)},
       kBuyerA,
       "completed converted group=1 revenue=20.00 payout=15.00 late=0 deadline=- decided=0",
       "ended@0,completed@0,converted@0 timer=keep"},
      {"a postback group before a duration group",
       {DurationGroup(1, 60, "20.00", "15.00", "buyer_id:30"), ValueGroup(2)},
       kBuyerB,
       waiting(2),
       kWaitOut},
  };
  for (const Case& c : kCases) {
    World w(c.groups);
    Call call = LiveCall(w, c.buyer);
    const Outcome out = End(call, w);
    EXPECT_EQ(Conv(call) + " | " + Out(out), c.want + " | " + c.want_out) << "case " << c.name;
  }
}

// ---- Duration groups.

TEST(DurationGroupTest, ConvertsWhenAnsweredAndLongEnough) {
  struct Case {
    std::string name;
    int64_t seconds;
    bool answered;
    std::optional<int64_t> duration;  // as the ended event gives it; else from answered_at
    bool want_converted;
  };
  const Case kCases[] = {
      {"90 s of 60", 60, true, std::nullopt, true},
      {"exactly 60", 60, true, 60, true},
      {"59 of 60", 60, true, 59, false},
      {"0 of 0", 0, true, 0, true},
      {"computed 90 of 91", 91, true, std::nullopt, false},
      {"computed 90 of 90", 90, true, std::nullopt, true},
      {"not answered, 0 s needed", 0, false, std::nullopt, false},
      {"not answered, duration given", 60, false, 120, false},
  };
  for (const Case& c : kCases) {
    World w({DurationGroup(1, c.seconds, "20.00", "15.50")});
    Call call = LiveCall(w, kBuyerA, c.answered);
    const Outcome out = End(call, w, c.duration);
    const std::string want =
        c.want_converted
            ? "completed converted group=1 revenue=20.00 payout=15.50 late=0 deadline=- "
              "decided=0 | ended@0,completed@0,converted@0 timer=keep"
            : "completed not_converted group=1 revenue=- payout=- late=0 deadline=- "
              "decided=0 | ended@0,completed@0,not_converted@0 timer=keep";
    EXPECT_EQ(Conv(call) + " | " + Out(out), want) << "case " << c.name;
  }
}

// An edge that sends its events again after an outage may get `ended` through before
// `answered`: the end decided "not converted" for a call with no answer and 0 s; the answer
// then gives the duration, and a long enough call converts late.
TEST(DurationGroupTest, AnAnswerAfterTheEndConvertsLateWhenLongEnough) {
  struct Case {
    std::string name;
    int64_t seconds;
    std::optional<int64_t> given;  // duration_seconds of the ended event
    std::string want;
  };
  const Case kCases[] = {
      {"90 s of 60: converts late", 60, std::nullopt,
       "90 completed converted group=1 revenue=20.00 payout=15.50 late=1 deadline=- "
       "decided=5000 | answered@-90000,converted@5000 timer=keep"},
      {"90 s of 91: stays not converted", 91, std::nullopt,
       "90 completed not_converted group=1 revenue=- payout=- late=0 deadline=- decided=0 | "
       "answered@-90000 timer=keep"},
      {"a duration the edge gave is kept", 60, 30,
       "30 completed not_converted group=1 revenue=- payout=- late=0 deadline=- decided=0 | "
       "answered@-90000 timer=keep"},
  };
  for (const Case& c : kCases) {
    World w({DurationGroup(1, c.seconds, "20.00", "15.50")});
    Call call = LiveCall(w, kBuyerA, /*answered=*/false);
    End(call, w, c.given);
    ASSERT_EQ(call.conversion.state, ConversionState::kNotConverted) << c.name;
    core::Result<Outcome> r =
        ApplyEvent(call, At(EventType::kAnswered, kAnswered), w.Ctx(kEnd + 5000));
    ASSERT_TRUE(r) << c.name;
    EXPECT_EQ(
        std::to_string(call.duration_seconds.value_or(-1)) + " " + Conv(call) + " | " + Out(*r),
        c.want)
        << "case " << c.name;
  }
  // An answer reported after the end is taken as at the end at the latest.
  World w({DurationGroup(1, 60)});
  Call call = LiveCall(w, kBuyerA, /*answered=*/false);
  End(call, w);
  ASSERT_TRUE(ApplyEvent(call, At(EventType::kAnswered, kEnd + 7000), w.Ctx(kEnd + 8000)));
  EXPECT_EQ(call.answered_at, kEnd);
  EXPECT_EQ(call.duration_seconds, 0);
}

// A call the stale sweep closed (its end never came): its end time is callpost's guess, so its
// talk time is unknown, 0, and a duration group never converts on it, not even when a late
// `answered` comes.
TEST(DurationGroupTest, AStaleCloseNeverConvertsByDuration) {
  for (const bool answered : {true, false}) {
    World w({DurationGroup(1, 30, "20.00", "15.50")});
    Call call = LiveCall(w, kBuyerA, answered);
    Event e = At(EventType::kEnded, kEnd);
    e.hung_up_by = std::string(kHungUpStale);
    ASSERT_TRUE(ApplyEvent(call, e, w.Ctx(kEnd)));
    EXPECT_EQ(std::to_string(call.duration_seconds.value_or(-1)) + " " + Conv(call),
              "0 completed not_converted group=1 revenue=- payout=- late=0 deadline=- decided=0")
        << (answered ? "answered" : "never answered");
    ASSERT_TRUE(ApplyEvent(call, At(EventType::kAnswered, kAnswered), w.Ctx(kEnd + 5000)));
    EXPECT_EQ(std::to_string(call.duration_seconds.value_or(-1)) + " " + Conv(call),
              "0 completed not_converted group=1 revenue=- payout=- late=0 deadline=- decided=0")
        << (answered ? "answered" : "never answered") << ", then a late answer";
  }
}

// A call that never connected is decided at once, in the group that matches it.
TEST(DurationGroupTest, AFailedCallIsNotConvertedInItsGroup) {
  World w({DurationGroup(1, 0)});
  Call call = LiveCall(w, kBuyerA, /*answered=*/false);
  Event e = At(EventType::kEnded, kEnd);
  e.failed = true;
  core::Result<Outcome> r = ApplyEvent(call, e, w.Ctx(kEnd));
  ASSERT_TRUE(r);
  EXPECT_EQ(Conv(call) + " | " + Out(*r),
            "completed not_converted group=1 revenue=- payout=- late=0 deadline=- decided=0 | "
            "ended@0,completed@0,not_converted@0 timer=keep");
}

TEST(DurationGroupTest, PostbacksOnlyAddTags) {
  const Params kCases[] = {
      {{"value", "10.00"}},
      {{"value", "abc"}},  // not read at all: the group takes no value
      {{"sale", ""}, {"disposition", "sold"}},
  };
  for (const Params& params : kCases) {
    World w({DurationGroup(1, 60), ValueGroup(2)});
    Call call = EndedCall(w);
    const std::string before = Conv(call);
    core::Result<PostbackResult> r = Post(call, w, params, kEnd + 5000);
    EXPECT_TRUE(r && r->status == "tags applied" && r->outcome.effects.empty() &&
                r->outcome.timer == Outcome::Timer::kKeep && Conv(call) == before &&
                call.HasTag(params.back().first, params.back().second))
        << "case " << params[0].first << "=" << params[0].second << ": "
        << (r ? r->status + " " + Out(r->outcome) : r.error().message) << " " << Conv(call);
  }
}

TEST(NoGroupTest, PostbacksOnlyAddTags) {
  World w({ValueGroup(1, "", "system_buyer_id:31")});
  Outcome end;
  Call call = EndedCall(w, &end);
  EXPECT_EQ(Out(end), "ended@0,completed@0,not_converted@0 timer=keep");
  core::Result<PostbackResult> r = Post(call, w, {{"value", "10.00"}}, kEnd + 5000);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, "tags applied");
  EXPECT_EQ(Out(r->outcome), " timer=keep");
  EXPECT_EQ(Conv(call),
            "completed not_converted group=- revenue=- payout=- late=0 deadline=- decided=0");
  EXPECT_EQ(call.TagValues("value"), std::vector<std::string>{"10.00"});
}

// ---- Postback groups: the wait.

TEST(PostbackWaitTest, EndStartsTheWait) {
  struct Case {
    std::string name;
    int64_t timeout_seconds;
    core::Millis now;  // when the ended event is processed, relative to kEnd
    std::string want;
  };
  const Case kCases[] = {
      {"default 10 minutes", 600, 0,
       "ended awaiting_postback group=1 revenue=- payout=- late=0 deadline=600000 decided=- | "
       "ended@0 timer=set@600000"},
      {"30 s", 30, 0,
       "ended awaiting_postback group=1 revenue=- payout=- late=0 deadline=30000 decided=- | "
       "ended@0 timer=set@30000"},
      {"ended event processed after the deadline", 30, 45'000,
       "ended awaiting_postback group=1 revenue=- payout=- late=0 deadline=30000 decided=- | "
       "ended@0 timer=set@30000"},
      {"no timeout: decided at once", 0, 0,
       "completed not_converted group=1 revenue=- payout=- late=0 deadline=0 decided=0 | "
       "ended@0,completed@0,not_converted@0 timer=keep"},
  };
  for (const Case& c : kCases) {
    World w({ValueGroup(1, "", "", c.timeout_seconds)});
    Call call = LiveCall(w);
    const Event e = At(EventType::kEnded, kEnd);
    core::Result<Outcome> out = ApplyEvent(call, e, w.Ctx(kEnd + c.now));
    ASSERT_TRUE(out) << c.name;
    EXPECT_EQ(Conv(call) + " | " + Out(*out), c.want) << "case " << c.name;
  }
}

TEST(PostbackWaitTest, TagOnlyPostbackKeepsWaiting) {
  const Params kCases[] = {
      {{"disposition", "callback"}},
      {{"amount", "12.00"}},  // not the group's value parameter
      {{"VALUE", "12.00"}},   // the value parameter's name is exact
      {{"note", "sale"}},     // a keyword of no group here
      {{"a", "1"}, {"a", "2"}, {"b", ""}},
  };
  for (const Params& params : kCases) {
    World w({ValueGroup(1, "*0.8")});
    Call call = EndedCall(w);
    const std::string before = Conv(call);
    core::Result<PostbackResult> r = Post(call, w, params, kEnd + 5000);
    EXPECT_TRUE(r && r->status == "tags applied" && Out(r->outcome) == " timer=keep" &&
                Conv(call) == before && !r->outcome.new_tags.empty())
        << "case " << params[0].first << "=" << params[0].second << ": "
        << (r ? r->status + " " + Out(r->outcome) : r.error().message) << " " << Conv(call);
  }
}

// ---- Postback groups: posted value.

TEST(PostedValueTest, ConvertsWithThePayoutModifier) {
  struct Case {
    std::string modifier;
    std::string value;
    std::string want_revenue;
    std::string want_payout;
  };
  const Case kCases[] = {
      {"*0.8", "10.00", "10.00", "8.00"},    // the seed's example
      {"-5*0.5", "100", "100.00", "47.50"},  // left to right
      {"", "10.00", "10.00", "10.00"},       // blank: payout = revenue
      {"*0", "10.00", "10.00", "0.00"},      // not paying the publisher
      {"-20", "10.00", "10.00", "0.00"},     // never negative
      {"/3", "10.00", "10.00", "3.33"},
      {"+2.5", "1", "1.00", "3.50"},
      {"*0.8", "$12.50", "12.50", "10.00"},
      {"*0.8", "0.125", "0.13", "0.10"},    // revenue rounds half-up to cents
      {"*0.8", "10.005", "10.01", "8.00"},  // payout from 10.005 (8.004), rounded at the end
      {"*0.5", "0.05", "0.05", "0.03"},     // payout rounds half-up
      {"*0.8", " 7 ", "7.00", "5.60"},
  };
  for (const Case& c : kCases) {
    World w({ValueGroup(1, c.modifier)});
    Call call = EndedCall(w);
    core::Result<PostbackResult> r = Post(call, w, {{"value", c.value}}, kEnd + 5000);
    const std::string want =
        "conversion recorded completed converted group=1 revenue=" + c.want_revenue +
        " payout=" + c.want_payout +
        " late=0 deadline=600000 decided=5000 | "
        "completed@5000,converted@5000 timer=clear";
    EXPECT_EQ(r ? r->status + " " + Conv(call) + " | " + Out(r->outcome) : r.error().message, want)
        << "case modifier \"" << c.modifier << "\" value \"" << c.value << "\"";
  }
}

TEST(PostedValueTest, ValueIsAlsoATagWithTheOtherParams) {
  World w({ValueGroup(1, "*0.8")});
  Call call = EndedCall(w);
  core::Result<PostbackResult> r =
      Post(call, w, {{"order", "A-17"}, {"value", "10.00"}}, kEnd + 5000);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->tag_values, (Params{{"order", "A-17"}, {"value", "10.00"}}));
  EXPECT_TRUE(call.HasTag("order", "A-17") && call.HasTag("value", "10.00"));
  for (const Tag& t : r->outcome.new_tags) {
    EXPECT_EQ(t.source, TagSource::kPostback) << t.key;
    EXPECT_EQ(t.at, kEnd + 5000) << t.key;
  }
}

TEST(PostedValueTest, OtherValueParameter) {
  ConversionGroup g = ValueGroup(1, "*0.5");
  g.value_param = "revenue";
  World w({g});
  Call call = EndedCall(w);
  core::Result<PostbackResult> r = Post(call, w, {{"value", "99.00"}}, kEnd + 1000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, "tags applied");
  r = Post(call, w, {{"revenue", "30.00"}}, kEnd + 2000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status + " " + Conv(call),
            "conversion recorded completed converted group=1 revenue=30.00 payout=15.00 late=0 "
            "deadline=600000 decided=2000");
}

TEST(PostedValueTest, FirstValueParameterCounts) {
  World w({ValueGroup(1)});
  Call call = EndedCall(w);
  core::Result<PostbackResult> r =
      Post(call, w, {{"value", "10.00"}, {"value", "20.00"}}, kEnd + 1000);
  ASSERT_TRUE(r);
  EXPECT_EQ(Str(call.conversion.revenue), "10.00");
  EXPECT_EQ(call.TagValues("value"), (std::vector<std::string>{"10.00", "20.00"}));
  // Every value must be an amount: a later one that is not refuses the postback.
  Call other = EndedCall(w);
  EXPECT_FALSE(Post(other, w, {{"value", "1"}, {"value", "abc"}}, kEnd + 1000));
  EXPECT_EQ(other.conversion.state, ConversionState::kAwaitingPostback);
  EXPECT_TRUE(other.TagValues("value").empty());
}

TEST(PostedValueTest, EmptyValueIsTagsOnly) {
  World w({ValueGroup(1, "*0.8")});
  Call call = EndedCall(w);
  core::Result<PostbackResult> r = Post(call, w, {{"note", "x"}, {"value", ""}}, kEnd + 5000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, "tags applied");
  EXPECT_EQ(call.conversion.state, ConversionState::kAwaitingPostback);
  EXPECT_TRUE(call.TagValues("value").empty());
}

TEST(PostedValueTest, MalformedValueIsAnErrorAndChangesNothing) {
  const std::string kValues[] = {"abc", "-5", "+5",    "1e3",    "1,000",
                                 ".5",  "5.", "1.2.3", "10 USD", "1000000000000.01"};
  for (bool live : {false, true}) {
    for (const std::string& value : kValues) {
      World w({ValueGroup(1, "*0.8")});
      Call call = live ? LiveCall(w) : EndedCall(w);
      const std::string before = Conv(call);
      const size_t tags = call.tags.size();
      core::Result<PostbackResult> r =
          Post(call, w, {{"note", "x"}, {"value", value}}, kEnd + 5000);
      EXPECT_TRUE(!r && r.error().code == core::ErrorCode::kInvalidArgument &&
                  r.error().field == "value" && Conv(call) == before && call.tags.size() == tags &&
                  call.early_postbacks.empty())
          << "case value \"" << value << "\"" << (live ? " (live)" : "") << ": "
          << (r ? r->status : r.error().message) << " " << Conv(call);
    }
  }
}

TEST(PostedValueTest, SecondConversionChangesNothing) {
  World w({ValueGroup(1, "*0.8")});
  Call call = EndedCall(w);
  ASSERT_TRUE(Post(call, w, {{"value", "10.00"}}, kEnd + 1000));
  const std::string converted = Conv(call);
  const size_t tags = call.tags.size();
  core::Result<PostbackResult> r =
      Post(call, w, {{"value", "50.00"}, {"note", "again"}}, kEnd + 2000);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, "already converted");
  EXPECT_EQ(Out(r->outcome), " timer=keep");
  EXPECT_FALSE(r->outcome.changed);
  EXPECT_TRUE(r->outcome.new_tags.empty());
  EXPECT_TRUE(r->tag_values.empty());  // nothing was applied, nothing is echoed
  EXPECT_EQ(Conv(call), converted);
  EXPECT_EQ(call.tags.size(), tags);
  // Tags alone are still welcome after the conversion.
  r = Post(call, w, {{"note", "thanks"}}, kEnd + 3000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, "tags applied");
  EXPECT_TRUE(call.HasTag("note", "thanks"));
  EXPECT_EQ(Conv(call), converted);
}

// ---- Postback groups: trigger keyword.

TEST(TriggerKeywordTest, KeywordAsNameOrValueIgnoringCase) {
  struct Case {
    Params params;
    bool want_converted;
    std::string want_tags;  // tag_values, "k=v" joined by ","
  };
  const Case kCases[] = {
      {{{"sale", ""}}, true, ""},
      {{{"sale", "1"}}, true, "sale=1"},
      {{{"SALE", ""}}, true, ""},
      {{{"result", "sale"}}, true, "result=sale"},
      {{{"result", "Sale"}}, true, "result=Sale"},
      {{{"order", "9"}, {"sale", ""}}, true, "order=9"},
      {{{"result", "no_sale"}}, false, "result=no_sale"},
      {{{"wholesale", ""}, {"result", "sales"}}, false, "result=sales"},
      {{{"disposition", "lead"}}, false, "disposition=lead"},
      {{{"value", "abc"}}, false, "value=abc"},  // a trigger group reads no value
      {{{"value", "12.00"}}, false, "value=12.00"},
  };
  for (const Case& c : kCases) {
    World w({TriggerGroup(1, "sale", "40.00", "30.00")});
    Call call = EndedCall(w);
    core::Result<PostbackResult> r = Post(call, w, c.params, kEnd + 5000);
    std::string tags;
    if (r) {
      for (const auto& [k, v] : r->tag_values) tags += (tags.empty() ? "" : ",") + k + "=" + v;
    }
    const std::string want =
        c.want_converted
            ? "conversion recorded completed converted group=1 revenue=40.00 payout=30.00 "
              "late=0 deadline=600000 decided=5000 | completed@5000,converted@5000 timer=clear"
            : "tags applied ended awaiting_postback group=1 revenue=- payout=- late=0 "
              "deadline=600000 decided=- |  timer=keep";
    EXPECT_EQ(r ? r->status + " " + Conv(call) + " | " + Out(r->outcome) + " | " + tags
                : r.error().message,
              want + " | " + c.want_tags)
        << "case " << c.params[0].first << "=" << c.params[0].second;
  }
}

// A call holding the most tag values it may: a postback that adds no new value converts it
// all the same (the bare keyword, an empty value, a value the call has); one that would add a
// value is refused and converts nothing; once converted, another converting postback adds
// nothing and is answered "already converted", never refused.
TEST(TriggerKeywordTest, ConvertsACallThatHoldsTheMostTags) {
  struct Case {
    Params params;
    std::string want;  // status, or the refusal
  };
  const Case kCases[] = {
      {{{"sale", ""}}, "conversion recorded"},
      {{{"sale", ""}, {"note", ""}}, "conversion recorded"},
      {{{"sale", ""}, {"filler", "7"}}, "conversion recorded"},
      {{{"sale", "1"}}, "refused"},
      {{{"sale", ""}, {"order", "9"}}, "refused"},
  };
  for (const Case& c : kCases) {
    World w({TriggerGroup(1, "sale", "40.00", "30.00")});
    Call call = EndedCall(w);
    while (call.tags.size() < kMaxTagsPerCall) {
      call.tags.push_back(Tag{"filler", std::to_string(call.tags.size())});
    }
    const std::string waiting = Conv(call);
    core::Result<PostbackResult> r = Post(call, w, c.params, kEnd + 5000);
    const std::string got =
        r ? r->status
          : (r.error().code == core::ErrorCode::kUnprocessable ? "refused" : r.error().message);
    EXPECT_EQ(got, c.want) << "case " << c.params.back().first << "=" << c.params.back().second;
    EXPECT_EQ(call.tags.size(), kMaxTagsPerCall);
    if (!r) {
      EXPECT_EQ(Conv(call), waiting) << "a refused postback changes nothing";
      continue;
    }
    r = Post(call, w, {{"sale", "2"}, {"order", "10"}}, kEnd + 6000);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, "already converted");
    EXPECT_EQ(call.tags.size(), kMaxTagsPerCall);
  }
}

// ---- Early postbacks (the call is still live).

TEST(EarlyPostbackTest, KeptAndAppliedAtTheEnd) {
  struct Case {
    std::string name;
    ConversionGroup group;
    bool routed;
    bool answered;
    Params params;
    std::string want_end;
  };
  const Case kCases[] = {
      {"value while answered",
       ValueGroup(1, "*0.8"),
       true,
       true,
       {{"value", "25.00"}},
       "completed converted group=1 revenue=25.00 payout=20.00 late=0 deadline=- decided=0"},
      {"value while routed",
       ValueGroup(1, "-5*0.5"),
       true,
       false,
       {{"value", "100"}},
       "completed converted group=1 revenue=100.00 payout=47.50 late=0 deadline=- decided=0"},
      {"value before routing",
       ValueGroup(1),
       false,
       false,
       {{"value", "3"}},
       "completed converted group=1 revenue=3.00 payout=3.00 late=0 deadline=- decided=0"},
      {"keyword",
       TriggerGroup(1, "sale", "40.00", "30.00"),
       true,
       true,
       {{"result", "SALE"}},
       "completed converted group=1 revenue=40.00 payout=30.00 late=0 deadline=- decided=0"},
  };
  for (const Case& c : kCases) {
    World w({c.group});
    Call call = LiveCall(w, c.routed ? std::optional<Id>(kBuyerA) : std::nullopt, c.answered);
    const Status live_status = call.status;
    core::Result<PostbackResult> r = Post(call, w, c.params, kAnswered + 1000);
    ASSERT_TRUE(r) << c.name << ": " << r.error().message;
    EXPECT_TRUE(r->status == "conversion recorded" && r->outcome.changed &&
                r->outcome.effects.empty() && r->outcome.timer == Outcome::Timer::kKeep &&
                call.early_postbacks == std::vector<Params>{c.params} &&
                call.status == live_status && call.conversion.state == ConversionState::kPending &&
                !call.conversion.revenue)
        << "case " << c.name << ": " << r->status << " " << Out(r->outcome) << " " << Conv(call);
    // A second converting postback while live: the first one stands.
    core::Result<PostbackResult> again =
        Post(call, w, {{"value", "99.00"}, {"sale", ""}, {"note", "x"}}, kAnswered + 2000);
    EXPECT_TRUE(again && again->status == "already converted" && !again->outcome.changed &&
                call.early_postbacks == std::vector<Params>{c.params} && !call.HasTag("note", "x"))
        << "case " << c.name << ": " << (again ? again->status : again.error().message);

    const Outcome end = End(call, w);
    EXPECT_EQ(Conv(call) + " | " + Out(end) +
                  " | early kept: " + (call.early_postbacks.empty() ? "no" : "yes"),
              c.want_end + " | ended@0,completed@0,converted@0 timer=keep | early kept: no")
        << "case " << c.name;
    // And after the end, too.
    core::Result<PostbackResult> after = Post(call, w, c.params, kEnd + 1000);
    EXPECT_TRUE(after && after->status == "already converted")
        << "case " << c.name << ": " << (after ? after->status : after.error().message);
  }
}

TEST(EarlyPostbackTest, TagsWhileLiveAreAppliedAtOnce) {
  World w({ValueGroup(1)});
  Call call = LiveCall(w);
  core::Result<PostbackResult> r = Post(call, w, {{"note", "hello"}}, kAnswered + 1000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, "tags applied");
  EXPECT_TRUE(call.early_postbacks.empty());
  EXPECT_TRUE(call.HasTag("note", "hello"));
}

TEST(EarlyPostbackTest, NotConvertingInTheCallsGroupIsDropped) {
  // The value would convert in group 1 (only buyer B's calls); the call goes to buyer A and
  // ends in the keyword group 2, where a value converts nothing: the call waits.
  World w({ValueGroup(1, "", "system_buyer_id:31"), TriggerGroup(2, "sale")});
  Call call = LiveCall(w, kBuyerA);
  core::Result<PostbackResult> r = Post(call, w, {{"value", "10.00"}}, kAnswered + 1000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, "conversion recorded");
  const Outcome end = End(call, w);
  EXPECT_EQ(Conv(call) + " | " + Out(end),
            "ended awaiting_postback group=2 revenue=- payout=- late=0 deadline=600000 "
            "decided=- | ended@0 timer=set@600000");
  EXPECT_TRUE(call.early_postbacks.empty());
  // The keyword still converts it.
  r = Post(call, w, {{"sale", ""}}, kEnd + 1000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status + " " + Out(r->outcome),
            "conversion recorded completed@1000,converted@1000 timer=clear");
}

// Two postback groups for two buyers: buyer B's keyword `sale`, buyer A's value. While the call
// (buyer A's) is live, a tag that happens to be B's keyword is kept, but takes nothing from A's
// group: the value after it is kept too, and converts the call in A's group at the end. The first
// conversion wins in the group the call ends in.
TEST(EarlyPostbackTest, AnotherGroupsKeywordTakesNothingFromTheCallsGroup) {
  World w({TriggerGroup(1, "sale", "40.00", "30.00", "system_buyer_id:31"),
           ValueGroup(2, "*0.8", "system_buyer_id:30")});
  Call call = LiveCall(w, kBuyerA);
  core::Result<PostbackResult> r = Post(call, w, {{"disposition", "sale"}}, kAnswered + 1000);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, "conversion recorded");
  r = Post(call, w, {{"value", "50.00"}}, kAnswered + 2000);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, "conversion recorded");
  r = Post(call, w, {{"value", "60.00"}, {"note", "x"}}, kAnswered + 3000);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, "already converted");  // group 2 has its conversion
  EXPECT_FALSE(call.HasTag("note", "x"));
  EXPECT_EQ(call.early_postbacks.size(), 2u);
  const Outcome end = End(call, w);
  EXPECT_EQ(Conv(call) + " | " + Out(end),
            "completed converted group=2 revenue=50.00 payout=40.00 late=0 deadline=- "
            "decided=0 | ended@0,completed@0,converted@0 timer=keep");
  EXPECT_TRUE(call.early_postbacks.empty());
}

TEST(EarlyPostbackTest, DurationOnlyCampaignKeepsNothing) {
  World w({DurationGroup(1, 60)});
  Call call = LiveCall(w);
  core::Result<PostbackResult> r = Post(call, w, {{"value", "10.00"}}, kAnswered + 1000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, "tags applied");
  EXPECT_TRUE(call.early_postbacks.empty());
}

// ---- The deadline.

TEST(FireDeadlineTest, DecidesNotConvertedOnlyOnceTheDeadlineIsReached) {
  struct Case {
    core::Millis now;  // relative to the deadline
    std::string want;
  };
  const Case kCases[] = {
      {-600'000, "ended awaiting_postback decided=- |  timer=keep changed=0"},
      {-1, "ended awaiting_postback decided=- |  timer=keep changed=0"},
      {0,
       "completed not_converted decided=600000 | completed@600000,not_converted@600000 "
       "timer=clear changed=1"},
      {1,
       "completed not_converted decided=600001 | completed@600001,not_converted@600001 "
       "timer=clear changed=1"},
      {86'400'000,
       "completed not_converted decided=87000000 | "
       "completed@87000000,not_converted@87000000 timer=clear changed=1"},
  };
  for (const Case& c : kCases) {
    World w({ValueGroup(1)});
    Call call = EndedCall(w);
    const core::Millis deadline = *call.conversion.deadline_at;
    const Outcome out = FireDeadline(call, w.Ctx(deadline + c.now));
    const std::string decided =
        call.conversion.decided_at ? std::to_string(*call.conversion.decided_at - kEnd) : "-";
    EXPECT_EQ(std::string(ToString(call.status)) + " " + ToString(call.conversion.state) +
                  " decided=" + decided + " | " + Out(out) +
                  " changed=" + std::to_string(out.changed),
              c.want)
        << "case deadline" << (c.now >= 0 ? "+" : "") << c.now;
    // A second firing never decides again.
    const Outcome again = FireDeadline(call, w.Ctx(deadline + c.now + 1000));
    if (c.now >= 0) {
      EXPECT_TRUE(!again.changed && again.effects.empty()) << "case deadline+" << c.now;
    }
  }
}

TEST(FireDeadlineTest, DoesNothingToCallsThatAreNotWaiting) {
  struct Case {
    std::string name;
    std::vector<ConversionGroup> groups;
    bool end;
    Params postback;  // applied after the end, when given
  };
  const Case kCases[] = {
      {"live call", {ValueGroup(1)}, false, {}},
      {"no group", {}, true, {}},
      {"duration group", {DurationGroup(1, 60)}, true, {}},
      {"converted", {ValueGroup(1)}, true, {{"value", "10"}}},
  };
  for (const Case& c : kCases) {
    World w(c.groups);
    Call call = LiveCall(w);
    if (c.end) End(call, w);
    if (!c.postback.empty()) {
      ASSERT_TRUE(Post(call, w, c.postback, kEnd + 1000));
    }
    const std::string before = Conv(call);
    const Outcome out = FireDeadline(call, w.Ctx(kEnd + 100'000'000));
    EXPECT_TRUE(!out.changed && out.effects.empty() && out.timer == Outcome::Timer::kKeep &&
                Conv(call) == before)
        << "case " << c.name << ": " << Out(out) << " " << Conv(call);
  }
}

TEST(LateConversionTest, ConvertsAfterTheDeadlineFlaggedLate) {
  World w({ValueGroup(1, "*0.8")});
  Call call = EndedCall(w);
  ASSERT_TRUE(FireDeadline(call, w.Ctx(kEnd + 600'000)).changed);
  core::Result<PostbackResult> r = Post(call, w, {{"value", "10.00"}}, kEnd + 700'000);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status + " " + Conv(call) + " | " + Out(r->outcome),
            "conversion recorded completed converted group=1 revenue=10.00 payout=8.00 late=1 "
            "deadline=600000 decided=700000 | converted@700000 timer=keep");
  r = Post(call, w, {{"value", "20.00"}}, kEnd + 800'000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, "already converted");
  EXPECT_EQ(Str(call.conversion.revenue), "10.00");
}

// A postback after the deadline is late even when the deadline has not fired yet (the loop
// fires it moments later, or once the server is back after a stop): the wait is decided first,
// as it would have been.
TEST(LateConversionTest, APostbackAfterADeadlineNotYetFiredIsLate) {
  {
    World w({ValueGroup(1, "*0.8")});
    Call call = EndedCall(w);
    core::Result<PostbackResult> r = Post(call, w, {{"value", "10.00"}}, kEnd + 700'000);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status + " " + Conv(call) + " | " + Out(r->outcome),
              "conversion recorded completed converted group=1 revenue=10.00 payout=8.00 late=1 "
              "deadline=600000 decided=700000 | "
              "completed@700000,not_converted@700000,converted@700000 timer=clear");
    // The deadline, when it comes, finds nothing to decide.
    EXPECT_FALSE(FireDeadline(call, w.Ctx(kEnd + 700'001)).changed);
  }
  {
    World w({ValueGroup(1, "*0.8")});
    Call call = EndedCall(w);
    core::Result<PostbackResult> r = Post(call, w, {{"disposition", "callback"}}, kEnd + 600'000);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status + " " + Conv(call) + " | " + Out(r->outcome),
              "tags applied completed not_converted group=1 revenue=- payout=- late=0 "
              "deadline=600000 decided=600000 | "
              "completed@600000,not_converted@600000 timer=clear");
  }
  {
    // A millisecond before the deadline, the postback is on time.
    World w({ValueGroup(1, "*0.8")});
    Call call = EndedCall(w);
    core::Result<PostbackResult> r = Post(call, w, {{"value", "10.00"}}, kEnd + 599'999);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_FALSE(call.conversion.late);
  }
}

// Two nodes: one decided the deadline first (at 600,100), while a postback that came to the other
// just before the deadline (599,950) waited for the call. It finds the call decided and converts it
// late, never decided before the decision it follows.
TEST(LateConversionTest, AConversionDecidedAfterTheDeadlineIsNeverDatedBeforeIt) {
  World w({ValueGroup(1, "*0.8")});
  Call call = EndedCall(w);
  ASSERT_TRUE(FireDeadline(call, w.Ctx(kEnd + 600'100)).changed);
  core::Result<PostbackResult> r = Post(call, w, {{"value", "10.00"}}, kEnd + 599'950);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status + " " + Conv(call) + " | " + Out(r->outcome),
            "conversion recorded completed converted group=1 revenue=10.00 payout=8.00 late=1 "
            "deadline=600000 decided=600100 | converted@600100 timer=keep");
}

TEST(LateConversionTest, NoTimeoutGroupConvertsLate) {
  World w({ValueGroup(1, "", "", /*timeout_seconds=*/0)});
  Call call = EndedCall(w);
  ASSERT_EQ(call.conversion.state, ConversionState::kNotConverted);
  core::Result<PostbackResult> r = Post(call, w, {{"value", "5"}}, kEnd + 1000);
  ASSERT_TRUE(r);
  EXPECT_EQ(Conv(call) + " | " + Out(r->outcome),
            "completed converted group=1 revenue=5.00 payout=5.00 late=1 deadline=0 "
            "decided=1000 | converted@1000 timer=keep");
}

// Answered and ended before the buyer was known, with no group fitting the call then: a converting
// postback that comes now is kept, not only tagged, and converts the call (late) once `routed`
// names the buyer. A call nobody answered keeps nothing.
TEST(LateRouteTest, APostbackAfterAnEndWithNoBuyerConvertsOnceTheBuyerIsKnown) {
  for (const bool answered : {true, false}) {
    World w({ValueGroup(1, "*0.8", "system_buyer_id:31")});
    Call call = LiveCall(w, std::nullopt, answered);
    End(call, w);
    ASSERT_EQ(Conv(call),
              "completed not_converted group=- revenue=- payout=- late=0 deadline=- decided=0");
    core::Result<PostbackResult> r = Post(call, w, {{"value", "50.00"}}, kEnd + 2000);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, answered ? "conversion recorded" : "tags applied");
    Event e = At(EventType::kRouted, kEnd + 5000);
    e.buyer_id = kBuyerB;
    core::Result<Outcome> o = ApplyEvent(call, e, w.Ctx(kEnd + 5000));
    ASSERT_TRUE(o) << o.error().message;
    EXPECT_EQ(Conv(call) + " | " + Out(*o),
              answered ? "completed converted group=1 revenue=50.00 payout=40.00 late=1 "
                         "deadline=- decided=5000 | routed@0,converted@5000 timer=keep"
                       : "completed not_converted group=1 revenue=- payout=- late=0 deadline=- "
                         "decided=0 | routed@0 timer=keep")
        << (answered ? "answered" : "never answered");
    EXPECT_TRUE(call.early_postbacks.empty());
  }
}

// `routed` after `ended` (the edge's retry got through late): the group is chosen again with the
// buyer's tag while the call can still change.
TEST(LateRouteTest, ChoosesTheGroupAgainWithTheBuyer) {
  const std::string kForB = "buyer_id:" + std::to_string(kBuyerB);
  const std::string kNotB = "buyer_id:!=" + std::to_string(kBuyerB);
  auto late_route = [](Call& call, const World& w, core::Millis at) {
    Event e = At(EventType::kRouted, at);
    e.buyer_id = kBuyerB;
    core::Result<Outcome> r = ApplyEvent(call, e, w.Ctx(at));
    EXPECT_TRUE(r) << r.error().message;
    return r ? *std::move(r) : Outcome();
  };
  {
    // No group fitted at the end: not converted then; the buyer's group now, so that the
    // buyer's keyword converts it late.
    World w({TriggerGroup(1, "sale", "40.00", "30.00", kForB)});
    Call call = LiveCall(w, std::nullopt);
    End(call, w);
    EXPECT_EQ(Conv(call),
              "completed not_converted group=- revenue=- payout=- late=0 deadline=- "
              "decided=0");
    Outcome o = late_route(call, w, kEnd + 5000);
    EXPECT_EQ(Conv(call) + " | " + Out(o),
              "completed not_converted group=1 revenue=- payout=- late=0 deadline=- decided=0 | "
              "routed@0 timer=keep");
    EXPECT_EQ(call.routed_at, kEnd);  // never after the end
    core::Result<PostbackResult> r = Post(call, w, {{"sale", ""}}, kEnd + 6000);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status + " " + Conv(call),
              "conversion recorded completed converted group=1 revenue=40.00 payout=30.00 late=1 "
              "deadline=- decided=6000");
  }
  {
    // Awaiting in the group for any buyer; the buyer's own group comes first: the wait is
    // in that group now, with its deadline.
    World w({ValueGroup(1, "", kForB, 3600), Position(ValueGroup(2, "", "", 30), 5)});
    Call call = LiveCall(w, std::nullopt);
    End(call, w);
    EXPECT_EQ(*call.conversion.group_id, 2);
    Outcome o = late_route(call, w, kEnd + 5000);
    EXPECT_EQ(Conv(call) + " | " + Out(o),
              "ended awaiting_postback group=1 revenue=- payout=- late=0 deadline=3600000 "
              "decided=- | routed@0 timer=set@3600000");
  }
  {
    // Awaiting in a group the buyer's tag now excludes, and no other: not converted now.
    World w({ValueGroup(1, "", kNotB)});
    Call call = LiveCall(w, std::nullopt);
    End(call, w);
    Outcome o = late_route(call, w, kEnd + 5000);
    EXPECT_EQ(Conv(call) + " | " + Out(o),
              "completed not_converted group=- revenue=- payout=- late=0 deadline=- decided=0 | "
              "routed@0,completed@0,not_converted@0 timer=clear");
  }
  {
    // The same group either way: nothing changes but the route.
    World w({ValueGroup(1)});
    Call call = LiveCall(w, std::nullopt);
    End(call, w);
    const std::string before = Conv(call);
    Outcome o = late_route(call, w, kEnd + 5000);
    EXPECT_EQ(Conv(call) + " | " + Out(o), before + " | routed@0 timer=keep");
  }
  {
    // The buyer's keyword came during the call, before anyone knew the buyer; the end put the
    // call in the group for any buyer. With the buyer known, it converts in the buyer's group,
    // at the end, as it would have in order.
    World w({TriggerGroup(1, "sale", "40.00", "30.00", kForB),
             Position(TriggerGroup(2, "lead", "5.00", "5.00"), 5)});
    Call call = LiveCall(w, std::nullopt);
    ASSERT_TRUE(Post(call, w, {{"sale", ""}}, kAnswered + 1000));
    End(call, w);
    EXPECT_EQ(*call.conversion.group_id, 2);
    Outcome o = late_route(call, w, kEnd + 5000);
    EXPECT_EQ(Conv(call) + " | " + Out(o),
              "completed converted group=1 revenue=40.00 payout=30.00 late=0 deadline=- "
              "decided=0 | routed@0,completed@0,converted@0 timer=clear");
    EXPECT_TRUE(call.early_postbacks.empty());
  }
  {
    // The same keyword, and only the buyer's group: not converted at the end for want of a
    // group, then converted late once the buyer is known.
    World w({TriggerGroup(1, "sale", "40.00", "30.00", kForB)});
    Call call = LiveCall(w, std::nullopt);
    ASSERT_TRUE(Post(call, w, {{"sale", ""}}, kAnswered + 1000));
    End(call, w);
    Outcome o = late_route(call, w, kEnd + 5000);
    EXPECT_EQ(Conv(call) + " | " + Out(o),
              "completed converted group=1 revenue=40.00 payout=30.00 late=1 deadline=- "
              "decided=5000 | routed@0,converted@5000 timer=keep");
    EXPECT_TRUE(call.early_postbacks.empty());
  }
  {
    // Decided with no group; the buyer's duration group now, and the call is long enough:
    // converted late at once.
    World w({DurationGroup(1, 60, "20.00", "15.00", kForB)});
    Call call = LiveCall(w, std::nullopt);
    End(call, w);
    Outcome o = late_route(call, w, kEnd + 5000);
    EXPECT_EQ(Conv(call) + " | " + Out(o),
              "completed converted group=1 revenue=20.00 payout=15.00 late=1 deadline=- "
              "decided=5000 | routed@0,converted@5000 timer=keep");
  }
}

// ---- The seed's sentences.

// "If we don't receive a postback from your Buyer, the call will be counted as non-converted
// and any non-conversion webhooks will be processed."
TEST(SeedTest, NoPostbackCountsAsNonConverted) {
  World w({ValueGroup(1, "*0.8")});
  Outcome end;
  Call call = EndedCall(w, &end);
  EXPECT_EQ(Out(end), "ended@0 timer=set@600000");  // post-call webhooks wait
  const Outcome out = FireDeadline(call, w.Ctx(end.timer_at));
  EXPECT_EQ(Out(out), "completed@600000,not_converted@600000 timer=clear");
  EXPECT_EQ(call.conversion.state, ConversionState::kNotConverted);
  EXPECT_EQ(call.status, Status::kCompleted);
}

// "If a conversion value is posted back after this happens, we'll mark the call as converted
// and process any conversion webhooks."
TEST(SeedTest, ConversionAfterTheTimeoutMarksTheCallConverted) {
  World w({ValueGroup(1, "*0.8")});
  Call call = EndedCall(w);
  FireDeadline(call, w.Ctx(kEnd + 600'000));
  core::Result<PostbackResult> r = Post(call, w, {{"value", "10.00"}}, kEnd + 3'600'000);
  ASSERT_TRUE(r);
  EXPECT_EQ(Triggers(r->outcome.effects), "converted");
  EXPECT_EQ(call.conversion.state, ConversionState::kConverted);
  EXPECT_TRUE(call.conversion.late);
  EXPECT_EQ(Str(call.conversion.payout), "8.00");
}

// "In cases where tag data is posted back that doesn't cause a conversion to be triggered, a
// non-conversion will not be triggered until the postback timeout expires."
TEST(SeedTest, TagDataDoesNotTriggerANonConversionBeforeTheTimeout) {
  World w({TriggerGroup(1, "sale")});
  Call call = EndedCall(w);
  std::vector<Effect> effects;
  for (core::Millis t : {1000, 60'000, 599'999}) {
    core::Result<PostbackResult> r =
        Post(call, w, {{"step", std::to_string(t)}, {"result", "no_sale"}}, kEnd + t);
    ASSERT_TRUE(r);
    effects.insert(effects.end(), r->outcome.effects.begin(), r->outcome.effects.end());
    const Outcome early = FireDeadline(call, w.Ctx(kEnd + t));
    effects.insert(effects.end(), early.effects.begin(), early.effects.end());
  }
  EXPECT_EQ(Triggers(effects), "");
  EXPECT_EQ(call.conversion.state, ConversionState::kAwaitingPostback);
  EXPECT_EQ(call.TagValues("step"), (std::vector<std::string>{"1000", "60000", "599999"}));
  EXPECT_EQ(Triggers(FireDeadline(call, w.Ctx(kEnd + 600'000)).effects), "completed,not_converted");
}

// ---- The race between the deadline and a conversion.

// The store serialises steps on one call, but a deadline and a converting postback may come in
// either order around the deadline. Whatever the order, the call is decided exactly once
// (one `completed`), its state only moves forward, and it is late iff the deadline fired first
// or had passed when the postback came (fired then, before the conversion).
TEST(ConversionRaceTest, DeadlineAndConversionDecideOnce) {
  std::vector<std::unique_ptr<World>> worlds;
  for (int64_t timeout : {1, 30, 600, 86'400}) {
    worlds.push_back(
        std::make_unique<World>(std::vector<ConversionGroup>{ValueGroup(1, "*0.8", "", timeout)}));
  }
  std::mt19937_64 rng(20240611);
  for (int i = 0; i < 5000; ++i) {
    const World& w = *worlds[rng() % worlds.size()];
    Call call = EndedCall(w);
    const core::Millis d = *call.conversion.deadline_at;
    const core::Millis fire_at = d + static_cast<core::Millis>(rng() % 3) - 1;
    const core::Millis post_at = d + static_cast<core::Millis>(rng() % 3) - 1;
    const bool fire_first = rng() % 2 == 0;

    std::vector<Effect> effects;
    std::string problems;
    auto check_forward = [&](Status s, ConversionState c) {
      if (call.status < s) problems += " status moved back;";
      const bool ok = call.conversion.state == c ||
                      (c == ConversionState::kAwaitingPostback &&
                       call.conversion.state != ConversionState::kPending) ||
                      (c == ConversionState::kNotConverted &&
                       call.conversion.state == ConversionState::kConverted);
      if (!ok)
        problems +=
            std::string(" state ") + ToString(c) + " -> " + ToString(call.conversion.state) + ";";
    };
    auto fire = [&](core::Millis now) {
      const Status s = call.status;
      const ConversionState c = call.conversion.state;
      const Outcome o = FireDeadline(call, w.Ctx(now));
      effects.insert(effects.end(), o.effects.begin(), o.effects.end());
      check_forward(s, c);
    };
    auto post = [&](core::Millis now, const std::string& value) {
      const Status s = call.status;
      const ConversionState c = call.conversion.state;
      core::Result<PostbackResult> r = Post(call, w, {{"value", value}}, now);
      if (!r) {
        problems += " postback refused: " + r.error().message + ";";
        return;
      }
      effects.insert(effects.end(), r->outcome.effects.begin(), r->outcome.effects.end());
      check_forward(s, c);
    };
    if (fire_first) {
      fire(fire_at);
      post(post_at, "10.00");
    } else {
      post(post_at, "10.00");
      fire(fire_at);
    }
    // A stale timer and a buyer's retry change nothing.
    fire(d + 1000);
    post(d + 2000, "99.00");

    const bool want_late = (fire_first && fire_at >= d) || post_at >= d;
    const std::string want =
        std::string(want_late ? "completed,not_converted,converted" : "completed,converted") +
        " completed converted revenue=10.00 payout=8.00 late=" + (want_late ? "1" : "0");
    const std::string got =
        Triggers(effects) + " " + ToString(call.status) + " " + ToString(call.conversion.state) +
        " revenue=" + Str(call.conversion.revenue) + " payout=" + Str(call.conversion.payout) +
        " late=" + (call.conversion.late ? "1" : "0") + problems;
    ASSERT_EQ(got, want) << "case " << i << ": " << (fire_first ? "deadline" : "postback")
                         << " first, deadline at d" << (fire_at - d >= 0 ? "+" : "") << fire_at - d
                         << ", postback at d" << (post_at - d >= 0 ? "+" : "") << post_at - d;
  }
}

}  // namespace
}  // namespace engine

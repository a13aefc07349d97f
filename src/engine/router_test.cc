// Tests of ChooseBuyer: priority, weights, concurrency caps and repeat-caller routing.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/snapshot.h"
#include "engine/engine.h"

namespace engine {
namespace {

using config::RepeatRoute;

constexpr Id kAccountId = 1;
constexpr Id kOtherAccountId = 2;
constexpr Id kCampaignId = 10;
constexpr Id kA = 30;
constexpr Id kB = 31;
constexpr Id kC = 32;
constexpr Id kD = 33;
constexpr Id kForeign = 90;  // a buyer of another account
constexpr Id kMissing = 91;  // listed by the campaign, absent from the snapshot

struct BuyerSpec {
  BuyerSpec(Id id, int64_t priority = 1, int64_t weight = 1,  // NOLINT: implicit for tables
            std::optional<int64_t> cap = std::nullopt)
      : id(id), priority(priority), weight(weight), cap(cap) {}
  Id id;
  int64_t priority;
  int64_t weight;
  std::optional<int64_t> cap;
};

// One campaign whose buyers are `buyers`, in that order.
class World {
 public:
  explicit World(const std::vector<BuyerSpec>& buyers,
                 RepeatRoute route = RepeatRoute::kSameBuyer) {
    snapshot_.accounts[kAccountId].id = kAccountId;
    snapshot_.accounts[kOtherAccountId].id = kOtherAccountId;
    config::Campaign& campaign = snapshot_.campaigns[kCampaignId];
    campaign.id = kCampaignId;
    campaign.account_id = kAccountId;
    campaign.repeat_callers.enabled = true;
    campaign.repeat_callers.route = route;
    for (const BuyerSpec& b : buyers) {
      campaign.buyers.push_back(config::CampaignBuyer{b.id, b.priority, b.weight});
      if (b.id == kMissing) continue;
      config::Buyer& buyer = snapshot_.buyers[b.id];
      buyer.id = b.id;
      buyer.account_id = b.id == kForeign ? kOtherAccountId : kAccountId;
      buyer.concurrency_cap = b.cap;
    }
    snapshot_.Index();
  }

  Context Ctx() const { return Context{snapshot_, snapshot_.accounts.at(kAccountId), 0}; }
  void SetDestination(Id buyer, std::string destination) {
    snapshot_.buyers[buyer].destination = std::move(destination);
  }

 private:
  config::Snapshot snapshot_;
};

Call NewCall(Id campaign_id = kCampaignId) {
  Call call;
  call.account_id = kAccountId;
  call.campaign_id = campaign_id;
  return call;
}

std::optional<PreviousCall> Previous(std::optional<Id> buyer) {
  PreviousCall p;
  p.buyer_id = buyer;
  return p;
}

std::string Name(std::optional<Id> id) {
  if (!id) return "nobody";
  switch (*id) {
    case kA:
      return "A";
    case kB:
      return "B";
    case kC:
      return "C";
    case kD:
      return "D";
    default:
      return std::to_string(*id);
  }
}

struct Case {
  std::string name;
  std::vector<BuyerSpec> buyers;
  std::map<Id, int64_t> live;
  uint64_t random;
  std::string want;
};

void RunCases(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    World w(c.buyers);
    const std::optional<Id> got = ChooseBuyer(NewCall(), std::nullopt, c.live, c.random, w.Ctx());
    EXPECT_EQ(Name(got), c.want) << "case " << c.name << " (random " << c.random << ")";
  }
}

TEST(ChooseBuyerTest, PriorityLowerFirst) {
  const std::vector<BuyerSpec> kThree = {{kC, 3}, {kA, 1}, {kB, 2}};
  RunCases({
      {"lowest priority number wins", kThree, {}, 0, "A"},
      {"whatever the random number", kThree, {}, 12345, "A"},
      {"priority 0 comes first", {{kA, 1}, {kB, 0}}, {}, 0, "B"},
      {"a single buyer", {{kB, 7}}, {}, 99, "B"},
      {"no buyers", {}, {}, 0, "nobody"},
  });
}

TEST(ChooseBuyerTest, WeightsAmongEqualPriority) {
  const std::vector<BuyerSpec> kOneThree = {{kA, 1, 1}, {kB, 1, 3}};
  const std::vector<BuyerSpec> kOneTwoThree = {{kA, 1, 1}, {kB, 1, 2}, {kC, 1, 3}};
  RunCases({
      {"1:3, random%4 = 0", kOneThree, {}, 0, "A"},
      {"1:3, random%4 = 1", kOneThree, {}, 1, "B"},
      {"1:3, random%4 = 2", kOneThree, {}, 2, "B"},
      {"1:3, random%4 = 3", kOneThree, {}, 3, "B"},
      {"1:3, random%4 = 0 again", kOneThree, {}, 4, "A"},
      {"1:3, random%4 = 3 again", kOneThree, {}, 7, "B"},
      {"1:3, largest random", kOneThree, {}, std::numeric_limits<uint64_t>::max(), "B"},
      {"1:2:3, 0", kOneTwoThree, {}, 0, "A"},
      {"1:2:3, 1", kOneTwoThree, {}, 1, "B"},
      {"1:2:3, 2", kOneTwoThree, {}, 2, "B"},
      {"1:2:3, 3", kOneTwoThree, {}, 3, "C"},
      {"1:2:3, 5", kOneTwoThree, {}, 5, "C"},
      {"1:2:3, 6", kOneTwoThree, {}, 6, "A"},
      {"weights only within the tier", {{kA, 1, 1}, {kB, 2, 100}}, {}, 50, "A"},
  });
}

TEST(ChooseBuyerTest, WeightsShareCallsExactlyOverAllRandomValues) {
  World w({{kA, 1, 1}, {kB, 1, 3}, {kC, 2, 5}});
  std::map<std::string, int> count;
  for (uint64_t r = 0; r < 4000; ++r) {
    ++count[Name(ChooseBuyer(NewCall(), std::nullopt, {}, r, w.Ctx()))];
  }
  EXPECT_EQ(count, (std::map<std::string, int>{{"A", 1000}, {"B", 3000}}));
}

TEST(ChooseBuyerTest, ConcurrencyCaps) {
  const std::vector<BuyerSpec> kCappedA = {{kA, 1, 1, 2}, {kB, 1, 3}, {kC, 1, 1}};
  RunCases({
      {"below the cap", {{kA, 1, 1, 2}, {kB, 2}}, {{kA, 1}}, 0, "A"},
      {"at the cap", {{kA, 1, 1, 2}, {kB, 2}}, {{kA, 2}}, 0, "B"},
      {"over the cap", {{kA, 1, 1, 2}, {kB, 2}}, {{kA, 5}}, 0, "B"},
      {"no cap is no limit", {{kA, 1, 1}, {kB, 2}}, {{kA, 1'000'000}}, 0, "A"},
      {"other buyers' calls do not count", {{kA, 1, 1, 1}, {kB, 2}}, {{kB, 9}, {kC, 9}}, 0, "A"},
      {"cap of 1 with nothing live", {{kA, 1, 1, 1}, {kB, 2}}, {}, 0, "A"},
      // A capped buyer leaves the tier: the weights of the others decide (3:1 over 4).
      {"capped buyer's weight leaves the tier, 0", kCappedA, {{kA, 2}}, 0, "B"},
      {"capped buyer's weight leaves the tier, 2", kCappedA, {{kA, 2}}, 2, "B"},
      {"capped buyer's weight leaves the tier, 3", kCappedA, {{kA, 2}}, 3, "C"},
      {"capped buyer's weight leaves the tier, 4", kCappedA, {{kA, 2}}, 4, "B"},
      {"whole tier capped: next priority",
       {{kA, 1, 1, 1}, {kB, 1, 1, 1}, {kC, 2}},
       {{kA, 1}, {kB, 1}},
       0,
       "C"},
      {"two tiers capped: third priority",
       {{kA, 1, 1, 1}, {kB, 2, 1, 1}, {kC, 3}},
       {{kA, 1}, {kB, 1}},
       0,
       "C"},
      {"everybody capped", {{kA, 1, 1, 1}, {kB, 2, 1, 3}}, {{kA, 1}, {kB, 3}}, 0, "nobody"},
      {"buyer of another account is skipped", {{kForeign, 1}, {kB, 2}}, {}, 0, "B"},
      {"deleted buyer is skipped", {{kMissing, 1}, {kB, 1}}, {}, 0, "B"},
      {"only unusable buyers", {{kForeign, 1}, {kMissing, 1}}, {}, 0, "nobody"},
  });
}

TEST(ChooseBuyerTest, UnknownCampaignChoosesNobody) {
  World w({BuyerSpec(kA, 1)});
  EXPECT_EQ(ChooseBuyer(NewCall(/*campaign_id=*/99), std::nullopt, {}, 0, w.Ctx()), std::nullopt);
  Call foreign = NewCall();
  foreign.account_id = kOtherAccountId;  // the campaign is not this account's
  EXPECT_EQ(ChooseBuyer(foreign, std::nullopt, {}, 0, w.Ctx()), std::nullopt);
}

TEST(ChooseBuyerTest, RepeatCallers) {
  struct RepeatCase {
    std::string name;
    RepeatRoute route;
    std::vector<BuyerSpec> buyers;
    std::map<Id, int64_t> live;
    std::optional<PreviousCall> previous;
    std::vector<uint64_t> randoms;
    std::string want;  // for every random value
  };
  // A first, then B and C sharing the second tier 1:3, then D.
  const std::vector<BuyerSpec> kTiers = {{kA, 1}, {kB, 2, 1}, {kC, 2, 3}, {kD, 3}};
  const std::vector<uint64_t> kRandoms = {0, 1, 2, 3, 4, 5, 6, 7, 1001};
  const RepeatCase kCases[] = {
      {"same_buyer: last buyer again",
       RepeatRoute::kSameBuyer,
       kTiers,
       {},
       Previous(kD),
       kRandoms,
       "D"},
      {"same_buyer: last buyer at its cap, usual routing",
       RepeatRoute::kSameBuyer,
       {{kA, 1}, {kD, 3, 1, 1}},
       {{kD, 1}},
       Previous(kD),
       kRandoms,
       "A"},
      {"same_buyer: last buyer no longer on the campaign",
       RepeatRoute::kSameBuyer,
       kTiers,
       {},
       Previous(77),
       kRandoms,
       "A"},
      {"same_buyer: previous call had no buyer",
       RepeatRoute::kSameBuyer,
       kTiers,
       {},
       Previous(std::nullopt),
       kRandoms,
       "A"},
      {"same_buyer: not a repeat",
       RepeatRoute::kSameBuyer,
       kTiers,
       {},
       std::nullopt,
       kRandoms,
       "A"},
      {"new_buyer: skips the last buyer",
       RepeatRoute::kNewBuyer,
       kTiers,
       {},
       Previous(kA),
       {0, 4, 8, 1000},
       "B"},
      {"new_buyer: skips the last buyer, weights of the rest",
       RepeatRoute::kNewBuyer,
       kTiers,
       {},
       Previous(kA),
       {1, 2, 3, 5, 6, 7, 1001},
       "C"},
      {"new_buyer: skips the last buyer within a tier",
       RepeatRoute::kNewBuyer,
       {{kB, 1, 1}, {kC, 1, 3}},
       {},
       Previous(kC),
       kRandoms,
       "B"},
      {"new_buyer: the last buyer when nobody else can",
       RepeatRoute::kNewBuyer,
       {{kA, 1}, {kB, 2, 1, 1}, {kC, 3, 1, 1}},
       {{kB, 1}, {kC, 1}},
       Previous(kA),
       kRandoms,
       "A"},
      {"new_buyer: last buyer at its cap too",
       RepeatRoute::kNewBuyer,
       {{kA, 1, 1, 1}, {kB, 2, 1, 1}},
       {{kA, 1}, {kB, 1}},
       Previous(kA),
       kRandoms,
       "nobody"},
      {"new_buyer: previous call had no buyer",
       RepeatRoute::kNewBuyer,
       kTiers,
       {},
       Previous(std::nullopt),
       kRandoms,
       "A"},
      {"new_buyer: not a repeat", RepeatRoute::kNewBuyer, kTiers, {}, std::nullopt, kRandoms, "A"},
      {"any: the last buyer means nothing",
       RepeatRoute::kAny,
       kTiers,
       {},
       Previous(kD),
       kRandoms,
       "A"},
      {"any: last buyer can be chosen again",
       RepeatRoute::kAny,
       kTiers,
       {},
       Previous(kA),
       kRandoms,
       "A"},
  };
  for (const RepeatCase& c : kCases) {
    World w(c.buyers, c.route);
    for (uint64_t r : c.randoms) {
      EXPECT_EQ(Name(ChooseBuyer(NewCall(), c.previous, c.live, r, w.Ctx())), c.want)
          << "case " << c.name << " (random " << r << ")";
    }
  }
}

// The SIP edge's lookup (`sip_only`) passes over buyers without a sip:/sips: address as over a
// capped one; other lookups take them in their turn.
TEST(ChooseBuyerTest, SipOnlyPassesOverBuyersReachableByPhone) {
  World w({{kA, 1}, {kB, 2}, {kC, 3}});
  w.SetDestination(kA, "+15550000001");
  w.SetDestination(kB, "sips:b@192.0.2.10:5061");
  w.SetDestination(kC, "sip:c@192.0.2.11");
  EXPECT_EQ(Name(ChooseBuyer(NewCall(), std::nullopt, {}, 0, w.Ctx())), "A");
  EXPECT_EQ(Name(ChooseBuyer(NewCall(), std::nullopt, {}, 0, w.Ctx(), true)), "B");
  w.SetDestination(kB, "+15550000002");
  w.SetDestination(kC, "+15550000003");
  EXPECT_EQ(Name(ChooseBuyer(NewCall(), std::nullopt, {}, 0, w.Ctx(), true)), "nobody");
}

}  // namespace
}  // namespace engine

// Fuzzes the buyer postback path from bytes to the call: the query string and the POST body
// (form, or flat JSON when the media type says so) through http::RequestParams, then
// engine::ApplyPostback on a call, and for a live call the end of the call that applies an
// early postback. The first byte picks the method, the media type and the call's state; then
// the query up to the first NUL, then the body.
// Properties: no crash; bad input is a 4xx (400 for a malformed request, a bad tag or amount,
// 422 for more tags than a call may hold) and changes nothing on the call; an accepted
// postback only moves the call forward, keeps the tags within the limits and never changes a
// recorded conversion.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/snapshot.h"
#include "engine/engine.h"
#include "fuzz_check.h"
#include "http/params.h"

namespace {

constexpr engine::Id kAccount = 1;
constexpr engine::Id kCampaign = 10;
constexpr core::Millis kT0 = 1'700'000'000'000;

// A campaign with a postback_value group (value_param "value", payout "*0.8", for calls
// tagged source:google), a postback_trigger group ("sale", 10.00) and a duration group.
const config::Snapshot& World() {
  static const config::Snapshot* snapshot = [] {
    auto* s = new config::Snapshot;
    s->accounts[kAccount].id = kAccount;
    config::Campaign& c = s->campaigns[kCampaign];
    c.id = kCampaign;
    c.account_id = kAccount;
    auto group = [&](engine::Id id, config::ConversionType type, const char* matches) {
      config::ConversionGroup& g = s->conversion_groups[id];
      g.id = id;
      g.account_id = kAccount;
      g.campaign_id = kCampaign;
      g.type = type;
      g.position = static_cast<int64_t>(id);
      g.matches = *core::TagFilter::Parse(matches);
      return &g;
    };
    group(50, config::ConversionType::kPostbackValue, "source:google")->payout_modifier =
        *core::PayoutModifier::Parse("*0.8");
    auto* trigger = group(51, config::ConversionType::kPostbackTrigger, "source:~bing");
    trigger->trigger = "sale";
    trigger->revenue = *core::Money::Parse("10.00");
    trigger->payout = *core::Money::Parse("7.50");
    group(52, config::ConversionType::kDuration, "source:==radio")->seconds = 60;
    s->Index();
    return s;
  }();
  return *snapshot;
}

engine::Call MakeCall(uint8_t state) {
  engine::Call call;
  call.id = 7;
  call.uuid = "00000000-0000-4000-8000-000000000001";
  call.account_id = kAccount;
  call.campaign_id = kCampaign;
  call.started_at = kT0;
  call.tags.push_back({"source", (state & 1) ? "bing" : "google", engine::TagSource::kNumber, kT0});
  switch (state % 4) {
    case 0:  // answered, live
      call.status = engine::Status::kAnswered;
      call.routed_at = call.answered_at = kT0 + 1000;
      break;
    case 1:
    case 2:  // ended, waiting for a postback of its group
      call.status = engine::Status::kEnded;
      call.ended_at = kT0 + 90'000;
      call.conversion.state = engine::ConversionState::kAwaitingPostback;
      call.conversion.group_id = (state & 1) ? 51 : 50;
      call.conversion.deadline_at = kT0 + 690'000;
      break;
    default:  // converted already
      call.status = engine::Status::kCompleted;
      call.ended_at = kT0 + 90'000;
      call.conversion.state = engine::ConversionState::kConverted;
      call.conversion.group_id = 51;
      call.conversion.revenue = core::Money::FromCents(1000);
      call.conversion.payout = core::Money::FromCents(750);
      call.conversion.decided_at = kT0 + 100'000;
      break;
  }
  return call;
}

// Every field of the call, to tell whether a step changed it.
std::string Describe(const engine::Call& c) {
  std::string s;
  const auto add = [&](const auto& v) {
    if constexpr (std::is_convertible_v<decltype(v), std::string_view>) {
      s += std::string_view(v);
    } else {
      s += std::to_string(v);
    }
    s += '|';
  };
  const auto opt = [&](const auto& o) {
    if (o) {
      add(*o);
    } else {
      s += "-|";
    }
  };
  add(c.id), add(c.uuid), add(c.account_id), add(c.campaign_id), opt(c.publisher_id);
  opt(c.buyer_id), opt(c.number_id), add(c.number), add(c.caller_number), add(c.edge_call_id);
  add(c.repeat), add(static_cast<int>(c.status)), add(c.started_at), opt(c.routed_at);
  opt(c.answered_at), opt(c.ended_at), opt(c.duration_seconds), add(c.hung_up_by);
  add(static_cast<int>(c.conversion.state)), opt(c.conversion.group_id);
  s += c.conversion.revenue ? c.conversion.revenue->ToString() : "-";
  s += c.conversion.payout ? c.conversion.payout->ToString() : "-";
  add(c.conversion.late), opt(c.conversion.deadline_at), opt(c.conversion.decided_at);
  add(c.early_postbacks.size());
  for (const engine::Params& kept : c.early_postbacks) {
    for (const auto& [k, v] : kept) add(k), add(v);
  }
  for (const engine::Tag& t : c.tags) {
    add(t.key), add(t.value), add(static_cast<int>(t.source)), add(t.at), add(t.carried);
    opt(t.publisher_id);
  }
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::string_view rest = fuzz::AsText(data + 1, size - 1);
  const size_t nul = rest.find('\0');
  const std::string_view query = rest.substr(0, nul);

  http::Request request;
  static constexpr const char* kMethods[] = {"GET", "POST", "HEAD", "POST"};
  request.method = kMethods[mode & 3];
  static constexpr const char* kTypes[] = {"application/json", "application/x-www-form-urlencoded",
                                           "Application/JSON; charset=utf-8", nullptr};
  if (const char* type = kTypes[(mode >> 2) & 3]) request.headers.push_back({"Content-Type", type});
  if (nul != std::string_view::npos) request.body = std::string(rest.substr(nul + 1));

  auto params = http::RequestParams(request, query);
  if (!params) {
    fuzz::CheckInvalidArgument(params.error());
    return 0;
  }
  engine::Params posted;  // as the handler does: the call key is not a tag
  for (auto& [k, v] : *params) {
    if (k != "key") posted.emplace_back(std::move(k), std::move(v));
  }

  const config::Snapshot& world = World();
  const engine::Context ctx{world, world.accounts.at(kAccount), kT0 + 120'000};
  engine::Call call = MakeCall(mode >> 4);
  const std::string before = Describe(call);
  const auto status = call.status;
  const auto state = call.conversion.state;
  auto result = engine::ApplyPostback(call, posted, ctx);
  if (!result) {
    const core::Error& e = result.error();
    FUZZ_CHECK(e.code == core::ErrorCode::kInvalidArgument ||
               e.code == core::ErrorCode::kUnprocessable);
    FUZZ_CHECK(!e.message.empty());
    FUZZ_CHECK(Describe(call) == before);  // bad input changes nothing
    return 0;
  }
  FUZZ_CHECK(call.status >= status);
  FUZZ_CHECK(call.tags.size() <= engine::kMaxTagsPerCall);
  if (state == engine::ConversionState::kConverted) {
    FUZZ_CHECK(call.conversion.state == state);  // the first conversion wins
    FUZZ_CHECK(call.conversion.revenue == MakeCall(mode >> 4).conversion.revenue);
  }
  if (call.conversion.state == engine::ConversionState::kConverted) {
    FUZZ_CHECK(call.conversion.revenue && call.conversion.payout);
    FUZZ_CHECK(call.conversion.payout->cents() >= 0);
  }
  if (!result->outcome.changed) FUZZ_CHECK(Describe(call) == before);

  if (call.status < engine::Status::kEnded) {  // the call ends: an early postback applies now
    engine::Event ended;
    ended.type = engine::EventType::kEnded;
    ended.at = kT0 + 200'000;
    ended.hung_up_by = "caller";
    auto end = engine::ApplyEvent(call, ended, ctx);
    FUZZ_CHECK(end.has_value());
    FUZZ_CHECK(call.status >= engine::Status::kEnded);
  }
  return 0;
}

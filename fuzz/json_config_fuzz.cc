// Fuzzes JSON request decoding of the operator API: http::ParseJsonObject (the body parser of
// every operator route) and config::Decode for each kind of object. The first byte picks the
// kind (low 3 bits), create or update (bit 3) and whether references are checked against a
// small configuration (bit 4); the rest is the request body.
// Properties: no crash and no exception; a refusal is a 400 (or a 409 for a number in use)
// whose message starts with the field it names; an accepted object encodes to the API's JSON,
// which decodes again as a stored row to an object that encodes to the same JSON.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>

#include "config/codec.h"
#include "config/snapshot.h"
#include "fuzz_check.h"
#include "http/params.h"

namespace {

namespace json = boost::json;

constexpr config::Id kAccount = 1;

// Account 1 with a publisher, two buyers, a campaign and a number; buyer 90 is another
// account's.
const config::Snapshot& Refs() {
  static const config::Snapshot* snapshot = [] {
    auto* s = new config::Snapshot;
    s->accounts[kAccount].id = kAccount;
    s->accounts[2].id = 2;
    for (config::Id id : {30, 31, 90}) {
      config::Buyer& b = s->buyers[id];
      b.id = id;
      b.account_id = id == 90 ? 2 : kAccount;
      b.destination = "+18005550199";
    }
    s->publishers[20].id = 20;
    s->publishers[20].account_id = kAccount;
    s->campaigns[10].id = 10;
    s->campaigns[10].account_id = kAccount;
    config::Number& n = s->numbers[40];
    n.id = 40;
    n.account_id = kAccount;
    n.number = "+18005550100";
    n.campaign_id = 10;
    s->Index();
    return s;
  }();
  return *snapshot;
}

template <typename T>
T Base(bool creating) {
  T t;
  if constexpr (std::is_base_of_v<config::Meta, T>) {
    t.id = 41;
    t.account_id = kAccount;
  } else {
    t.id = kAccount;
  }
  if constexpr (std::is_same_v<T, config::PublisherKey>) {
    t.publisher_id = 20;
    t.prefix = "pk_0123";
    t.hash = std::string(64, 'a');
  }
  if constexpr (std::is_same_v<T, config::ConversionGroup> ||
                std::is_same_v<T, config::WebhookGroup>) {
    t.campaign_id = 10;
  }
  if (creating) return t;
  // An update starts from an object that exists (what the store gives back).
  if constexpr (requires { t.name; }) t.name = "existing";
  if constexpr (std::is_same_v<T, config::Number>) {
    t.number = "+18005550101";
    t.campaign_id = 10;
  }
  if constexpr (std::is_same_v<T, config::Buyer>) t.destination = "sip:buyer@example.com";
  if constexpr (std::is_same_v<T, config::ConversionGroup>) {
    t.name = "sale";
    t.type = config::ConversionType::kPostbackTrigger;
    t.trigger = "sale";
  }
  if constexpr (std::is_same_v<T, config::WebhookGroup>) {
    t.name = "ping";
    t.trigger = "converted";
    config::WebhookRequest r;
    r.url = *core::TokenTemplate::Parse("https://buyer.example/[call_uuid]");
    t.requests.push_back(std::move(r));
  }
  return t;
}

template <typename T>
void Check(const json::object& body, bool creating, bool refs) {
  config::DecodeContext ctx;
  ctx.creating = creating;
  ctx.refs = refs ? &Refs() : nullptr;
  auto decoded = config::Decode(body, Base<T>(creating), ctx);
  if (!decoded) {
    const core::Error& e = decoded.error();
    FUZZ_CHECK(e.code == core::ErrorCode::kInvalidArgument ||
               (e.code == core::ErrorCode::kConflict && std::is_same_v<T, config::Number>));
    FUZZ_CHECK(!e.field.empty());
    FUZZ_CHECK(e.message.rfind(e.field + ": ", 0) == 0);
    return;
  }
  const json::object encoded = config::Encode(*decoded);
  config::DecodeContext stored;
  stored.creating = true;
  stored.stored = true;
  auto again = config::Decode(encoded, Base<T>(true), stored);
  if (!again) {
    std::fprintf(stderr, "stored form refused: %s\n%s\n", again.error().message.c_str(),
                 json::serialize(encoded).c_str());
  }
  FUZZ_CHECK(again.has_value());
  const json::object reencoded = config::Encode(*again);
  if (reencoded != encoded) {
    std::fprintf(stderr, "%s\n%s\n", json::serialize(encoded).c_str(),
                 json::serialize(reencoded).c_str());
  }
  FUZZ_CHECK(reencoded == encoded);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  auto body = http::ParseJsonObject(fuzz::AsText(data + 1, size - 1));
  if (!body) {
    fuzz::CheckInvalidArgument(body.error());
    return 0;
  }
  const bool creating = (mode & 8) == 0;
  const bool refs = (mode & 16) != 0;
  switch (mode & 7) {
    case 0:
      Check<config::Publisher>(*body, creating, refs);
      break;
    case 1:
      Check<config::Buyer>(*body, creating, refs);
      break;
    case 2:
      Check<config::Campaign>(*body, creating, refs);
      break;
    case 3:
      Check<config::Number>(*body, creating, refs);
      break;
    case 4:
      Check<config::ConversionGroup>(*body, creating, refs);
      break;
    case 5:
      Check<config::WebhookGroup>(*body, creating, refs);
      break;
    case 6:
      Check<config::PublisherKey>(*body, creating, refs);
      break;
    default:
      Check<config::Account>(*body, creating, refs);
      break;
  }
  return 0;
}

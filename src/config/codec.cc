#include "config/codec.h"

#include <algorithm>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "config/field_reader.h"
#include "core/ids.h"
#include "core/ip_guard.h"
#include "core/webhook_signature.h"

namespace config {

namespace json = boost::json;

namespace {

constexpr int64_t kMaxId = INT64_MAX;

// The reader of an object's top level. Null on a field that cannot be null is refused in what
// operators send (a client sending {"tags":null} to clear them must not see them kept); a
// stored row is read as it was written.
FieldReader Reader(const json::object& o, const DecodeContext& c) {
  return FieldReader(o, {}, c.stored ? FieldReader::Nulls::kAbsent : FieldReader::Nulls::kRefused);
}

// Meta fields are output-only: clients may echo them back, they are never changed.
void IgnoreMeta(FieldReader& r) {
  for (const char* f : {"id", "account_id", "created_at", "updated_at"}) r.Ignore(f);
}

void EncodeMeta(const Meta& m, json::object& o) {
  o["id"] = m.id;
  o["created_at"] = core::FormatRfc3339(m.created_at);
  o["updated_at"] = core::FormatRfc3339(m.updated_at);
}

template <typename T>
core::Result<T> Done(FieldReader& r, T value) {
  if (auto f = r.Finish(); !f) return std::move(f).error();
  return value;
}

void ReadMoney(FieldReader& r, std::string_view name, core::Money& out, bool required) {
  std::string text;
  r.String(name, text, required, 32);
  if (!r.ok() || text.empty()) return;
  auto m = core::Money::Parse(text);
  if (!m) return r.Fail(name, "must be an amount such as \"12.50\" (" + m.error().message + ")");
  out = *m;
}

// A message from a core parser, without its own "matches: " style prefix (the field reader
// adds the field's name).
std::string WithoutPrefix(const std::string& message) {
  for (std::string_view prefix : {"matches: ", "payout modifier: "}) {
    if (message.rfind(prefix, 0) == 0) return message.substr(prefix.size());
  }
  return message;
}

// The "matches" field: compiled here, refused with the position of the error.
void ReadFilter(FieldReader& r, core::TagFilter& out) {
  std::string text = out.text();
  r.String("matches", text, false, 4096);
  if (!r.ok()) return;
  auto f = core::TagFilter::Parse(text);
  if (!f) return r.Fail("matches", WithoutPrefix(f.error().message));
  out = std::move(*f);
}

bool ReservedTagKey(std::string_view k) {
  return k.rfind("system_", 0) == 0 || k == "caller_number";
}

bool ValidTagKey(std::string_view k) {
  if (k.empty() || k.size() > 255) return false;
  for (char c : k) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
  }
  return true;
}

template <typename E, size_t N>
void ReadEnum(FieldReader& r, std::string_view name, E& out, bool required,
              const std::pair<const char*, E> (&names)[N]) {
  std::string text;
  r.String(name, text, required, 64);
  if (!r.ok() || text.empty()) return;
  std::string allowed;
  for (const auto& [s, e] : names) {
    if (text == s) {
      out = e;
      return;
    }
    allowed += (allowed.empty() ? "" : ", ") + std::string(s);
  }
  r.Fail(name, "must be one of " + allowed);
}

constexpr std::pair<const char*, RepeatRoute> kRoutes[] = {{"same_buyer", RepeatRoute::kSameBuyer},
                                                           {"new_buyer", RepeatRoute::kNewBuyer},
                                                           {"any", RepeatRoute::kAny}};

constexpr std::pair<const char*, ConversionType> kTypes[] = {
    {"duration", ConversionType::kDuration},
    {"postback_value", ConversionType::kPostbackValue},
    {"postback_trigger", ConversionType::kPostbackTrigger}};

}  // namespace

const char* ToString(RepeatRoute r) {
  for (const auto& [s, e] : kRoutes) {
    if (e == r) return s;
  }
  return "";
}

const char* ToString(ConversionType t) {
  for (const auto& [s, e] : kTypes) {
    if (e == t) return s;
  }
  return "";
}

core::Result<Publisher> Decode(const json::object& o, Publisher p, const DecodeContext& c) {
  FieldReader r = Reader(o, c);
  IgnoreMeta(r);
  r.String("name", p.name, c.creating, 255, true);
  r.String("external_id", p.external_id, false);
  return Done(r, std::move(p));
}

core::Result<Buyer> Decode(const json::object& o, Buyer b, const DecodeContext& c) {
  FieldReader r = Reader(o, c);
  IgnoreMeta(r);
  r.String("name", b.name, c.creating, 255, true);
  std::string dest = b.destination;
  r.String("destination", dest, c.creating, 512);
  if (r.ok() && dest != b.destination) {
    if (IsSipAddress(dest)) {
      // A host after the scheme and the user part, if any ("sip:@", "sip:b@" have none).
      const std::string_view rest = std::string_view(dest).substr(dest.find(':') + 1);
      const std::string_view host =
          rest.substr(rest.find('@') == std::string_view::npos ? 0 : rest.rfind('@') + 1);
      const bool control = std::any_of(dest.begin(), dest.end(),
                                       [](unsigned char ch) { return ch < 0x20 || ch == 0x7f; });
      if (host.empty() || host.front() == ':' || host.front() == ';') {
        r.Fail("destination", "a sip: URI needs a host (sip:buyer@host:5060)");
      } else if (control || dest.find_first_of(" <>\"") != std::string::npos) {
        r.Fail("destination",
               "a sip: URI must not contain spaces, quotes, angle brackets or control characters");
      }
      b.destination = dest;
    } else if (auto phone = core::NormalizePhone(dest)) {
      b.destination = *phone;
    } else {
      r.Fail("destination", "must be an E.164 phone number or a sip: URI");
    }
  }
  r.OptionalInt("concurrency_cap", b.concurrency_cap, 1, 1000000);
  return Done(r, std::move(b));
}

core::Result<Campaign> Decode(const json::object& o, Campaign k, const DecodeContext& c) {
  FieldReader r = Reader(o, c);
  IgnoreMeta(r);
  r.String("name", k.name, c.creating, 255, true);
  if (const auto* v = r.NonNull("buyers")) {
    if (!v->is_array()) {
      r.Fail("buyers", "must be a list");
    } else if (v->get_array().size() > 1000) {
      r.Fail("buyers", "must have at most 1000 entries");
    } else {
      std::vector<CampaignBuyer> buyers;
      for (size_t i = 0; i < v->get_array().size() && r.ok(); ++i) {
        const auto& e = v->get_array()[i];
        std::string prefix = "buyers[" + std::to_string(i) + "]";
        if (!e.is_object()) {
          r.Fail(prefix, "must be an object");
          break;
        }
        FieldReader br(e.get_object(), prefix + ".", r.nulls());
        CampaignBuyer cb;
        br.Int("buyer_id", cb.buyer_id, true, 1, kMaxId);
        br.Int("priority", cb.priority, false, 0, 1000000);
        br.Int("weight", cb.weight, false, 1, 1000000);
        if (br.ok() && c.refs && !Snapshot::Find(c.refs->buyers, k.account_id, cb.buyer_id)) {
          br.Fail("buyer_id", "no buyer with id " + std::to_string(cb.buyer_id));
        }
        for (const auto& prev : buyers) {
          if (br.ok() && prev.buyer_id == cb.buyer_id) br.Fail("buyer_id", "is listed twice");
        }
        if (auto f = br.Finish(); !f) return std::move(f).error();
        buyers.push_back(cb);
      }
      k.buyers = std::move(buyers);
    }
  }
  if (const auto* v = r.NonNull("repeat_callers")) {
    if (!v->is_object()) {
      r.Fail("repeat_callers", "must be an object");
    } else {
      FieldReader rr(v->get_object(), "repeat_callers.", r.nulls());
      rr.Bool("enabled", k.repeat_callers.enabled);
      rr.Int("window_seconds", k.repeat_callers.window_seconds, false, 1, 366 * 86400);
      ReadEnum(rr, "route", k.repeat_callers.route, false, kRoutes);
      if (auto f = rr.Finish(); !f) return std::move(f).error();
    }
  }
  return Done(r, std::move(k));
}

core::Result<Number> Decode(const json::object& o, Number n, const DecodeContext& c) {
  FieldReader r = Reader(o, c);
  IgnoreMeta(r);
  std::string number = n.number;
  r.String("number", number, c.creating, 32);
  if (r.ok() && number != n.number) {
    auto e164 = core::NormalizePhone(number);
    if (!e164) {
      r.Fail("number", "must be a phone number in E.164 form, such as +18005550100");
    } else {
      n.number = *e164;
      if (c.refs) {
        const Number* other = c.refs->FindNumber(n.number);
        if (other != nullptr && other->id != n.id) {
          return core::MakeError(core::ErrorCode::kConflict,
                                 "number: " + n.number + " is already in use", "number");
        }
      }
    }
  }
  r.Int("campaign_id", n.campaign_id, c.creating, 1, kMaxId);
  if (r.ok() && c.refs && !Snapshot::Find(c.refs->campaigns, n.account_id, n.campaign_id)) {
    r.Fail("campaign_id", "no campaign with id " + std::to_string(n.campaign_id));
  }
  r.OptionalInt("publisher_id", n.publisher_id, 1, kMaxId);
  if (r.ok() && c.refs && n.publisher_id &&
      !Snapshot::Find(c.refs->publishers, n.account_id, *n.publisher_id)) {
    r.Fail("publisher_id", "no publisher with id " + std::to_string(*n.publisher_id));
  }
  if (const auto* v = r.NonNull("tags")) {
    if (!v->is_object()) {
      r.Fail("tags", "must be an object of tag keys to string values");
    } else if (v->get_object().size() > 100) {
      r.Fail("tags", "must have at most 100 tags");
    } else {
      std::map<std::string, std::string> tags;
      for (const auto& kv : v->get_object()) {
        std::string field = "tags." + std::string(kv.key());
        if (!ValidTagKey(kv.key())) {
          r.Fail(field, "tag keys are 1-255 characters of letters, digits, _ - .");
        } else if (ReservedTagKey(kv.key())) {
          r.Fail(field, "system_* and caller_number are set by callpost");
        } else if (!kv.value().is_string() || kv.value().get_string().size() > 255 ||
                   !core::IsValidUtf8(kv.value().get_string()) ||
                   std::string_view(kv.value().get_string()).find('\0') != std::string_view::npos) {
          r.Fail(field, "must be a string of at most 255 bytes of UTF-8 without a NUL byte");
        } else {
          tags[kv.key()] = std::string(kv.value().get_string());
        }
      }
      n.tags = std::move(tags);
    }
  }
  return Done(r, std::move(n));
}

core::Result<ConversionGroup> Decode(const json::object& o, ConversionGroup g,
                                     const DecodeContext& c) {
  FieldReader r = Reader(o, c);
  IgnoreMeta(r);
  r.Ignore("campaign_id");
  r.Ignore("postback_instructions");
  r.String("name", g.name, c.creating, 255, true);
  const ConversionType old_type = g.type;
  ReadEnum(r, "type", g.type, c.creating, kTypes);
  // A new type needs its own fields, as on create.
  const bool fresh = c.creating || g.type != old_type;
  ReadFilter(r, g.matches);
  r.Int("position", g.position, false, 0, 1000000);
  switch (g.type) {
    case ConversionType::kDuration:
      r.Int("seconds", g.seconds, fresh, 0, 86400);
      break;
    case ConversionType::kPostbackValue: {
      r.String("value_param", g.value_param, false, 64);
      // A reserved name would make every postback refused (buyers may not send such tags);
      // a row stored before this check still loads.
      if (r.ok() && (g.value_param.empty() || !ValidTagKey(g.value_param) ||
                     g.value_param == "key" || (!c.stored && ReservedTagKey(g.value_param)))) {
        r.Fail("value_param",
               "must be a parameter name other than \"key\", \"caller_number\" and system_…");
      }
      std::string modifier = g.payout_modifier.text();
      r.String("payout_modifier", modifier, false, 256);
      if (r.ok()) {
        auto m = core::PayoutModifier::Parse(modifier);
        if (!m) {
          r.Fail("payout_modifier", WithoutPrefix(m.error().message));
        } else {
          g.payout_modifier = std::move(*m);
        }
      }
      break;
    }
    case ConversionType::kPostbackTrigger:
      r.String("trigger", g.trigger, fresh, 64);
      if (r.ok() && (g.trigger.empty() || !ValidTagKey(g.trigger) || g.trigger == "key" ||
                     (!c.stored && ReservedTagKey(g.trigger)))) {
        r.Fail("trigger",
               "must be a keyword of letters, digits, _ - . other than \"key\", "
               "\"caller_number\" and system_…");
      }
      break;
  }
  if (g.type != ConversionType::kPostbackValue) {
    ReadMoney(r, "revenue", g.revenue, fresh);
    ReadMoney(r, "payout", g.payout, fresh);
  }
  if (g.IsPostback()) {
    r.Int("postback_timeout_seconds", g.postback_timeout_seconds, false, 0, 30 * 86400);
  }
  // Fields of the other types are refused as unknown by Finish(), which names them.
  return Done(r, std::move(g));
}

namespace {

bool HeaderNameOk(std::string_view n) {
  if (n.empty() || n.size() > 128) return false;
  for (char ch : n) {
    if (!(isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_')) return false;
  }
  return true;
}

// Headers the dispatcher sets itself.
bool ReservedHeader(std::string_view n) {
  std::string lower(n);
  for (auto& ch : lower) ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
  return lower == "content-length" || lower == "host" || lower == "transfer-encoding" ||
         lower == "connection" || lower.rfind("webhook-", 0) == 0;
}

void ReadTemplate(FieldReader& r, std::string_view name, std::string_view text,
                  core::TokenTemplate& out, size_t max_length = core::TokenTemplate::kMaxLength) {
  auto t = core::TokenTemplate::Parse(text, max_length);
  if (!t) {
    std::string msg = t.error().message;
    if (msg.rfind("template: ", 0) == 0) msg = msg.substr(10);
    return r.Fail(name, msg);
  }
  out = std::move(*t);
}

// The host of a URL template when its text fixes it: the authority (after "://", up to the
// first '/', '?' or '#') ends before the first token. Without userinfo and port; an IPv6
// address keeps its brackets. nullopt when a token may change the host.
std::optional<std::string> FixedHost(const core::TokenTemplate& url) {
  const std::string prefix = url.LiteralPrefix();
  const size_t scheme_end = prefix.find("://");
  if (scheme_end == std::string::npos) return std::nullopt;
  const size_t begin = scheme_end + 3;
  size_t end = prefix.find_first_of("/?#", begin);
  if (end == std::string::npos) {
    if (url.has_tokens()) return std::nullopt;
    end = prefix.size();
  }
  std::string_view host(prefix.data() + begin, end - begin);
  if (const size_t at = host.rfind('@'); at != std::string_view::npos) host.remove_prefix(at + 1);
  const size_t colon = host.rfind(':');
  if (colon != std::string_view::npos && host.find(']', colon) == std::string_view::npos) {
    host = host.substr(0, colon);
  }
  return std::string(host);
}

std::optional<WebhookRequest> ReadRequest(FieldReader& parent, const json::value& v, size_t i,
                                          bool allow_private) {
  std::string prefix = "requests[" + std::to_string(i) + "]";
  if (!v.is_object()) {
    parent.Fail(prefix, "must be an object");
    return std::nullopt;
  }
  FieldReader r(v.get_object(), prefix + ".", parent.nulls());
  WebhookRequest req;
  r.String("method", req.method, false, 8);
  if (r.ok() && req.method != "GET" && req.method != "POST" && req.method != "PUT" &&
      req.method != "HEAD") {
    r.Fail("method", "must be one of GET, POST, PUT, HEAD");
  }
  std::string url;
  r.String("url", url, true, 8192);
  if (r.ok() && url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    r.Fail("url", "must start with http:// or https://");
  }
  if (r.ok()) ReadTemplate(r, "url", url, req.url);
  // The host, when the template's text fixes it, is one every attempt could connect to: a
  // URL without one ("http://", "http://a b/") would fail every delivery as `bad_url`.
  const std::optional<std::string> host = r.ok() ? FixedHost(req.url) : std::nullopt;
  if (host && (host->empty() || !boost::urls::parse_authority(*host))) {
    r.Fail("url", "has no valid host");
  }
  if (r.ok() && !allow_private) {
    // Such a host is refused at every attempt: say so now rather than fail for days. A name
    // is checked once resolved, when the dispatcher connects.
    if (host && core::ClassifyHost(*host) == core::HostKind::kRefused) {
      r.Fail("url", "the host " + *host +
                        " is a private, loopback or other non-public address, which this "
                        "server does not send webhooks to unless it runs with "
                        "--allow-private-webhooks");
    }
  }
  if (const auto* h = r.Raw("headers"); h != nullptr && !h->is_null()) {
    if (!h->is_object() || h->get_object().size() > 20) {
      r.Fail("headers", "must be an object of at most 20 header names to values");
    } else {
      for (const auto& kv : h->get_object()) {
        std::string field = "headers." + std::string(kv.key());
        if (!HeaderNameOk(kv.key())) {
          r.Fail(field, "is not a valid header name");
        } else if (ReservedHeader(kv.key())) {
          r.Fail(field, "is set by callpost");
        } else if (!kv.value().is_string() || kv.value().get_string().size() > 4096 ||
                   kv.value().get_string().find_first_of("\r\n") != json::string::npos) {
          r.Fail(field, "must be a single-line string of at most 4096 bytes");
        } else {
          core::TokenTemplate t;
          ReadTemplate(r, field, kv.value().get_string(), t);
          req.headers.emplace_back(kv.key(), std::move(t));
        }
      }
    }
  }
  if (const auto* b = r.Raw("body"); b != nullptr && !b->is_null()) {
    if (!b->is_string() || b->get_string().size() > core::TokenTemplate::kMaxBodyLength) {
      r.Fail("body", "must be a string (a template) of at most 65536 bytes, or null");
    } else if (req.method == "GET" || req.method == "HEAD") {
      r.Fail("body", "GET and HEAD requests carry no body");
    } else {
      core::TokenTemplate t;
      ReadTemplate(r, "body", b->get_string(), t, core::TokenTemplate::kMaxBodyLength);
      req.body = std::move(t);
    }
  }
  if (auto f = r.Finish(); !f) {
    parent.Fail(f.error().field, f.error().message.substr(f.error().field.size() + 2));
    return std::nullopt;
  }
  return req;
}

}  // namespace

core::Result<WebhookGroup> Decode(const json::object& o, WebhookGroup g, const DecodeContext& c) {
  FieldReader r = Reader(o, c);
  IgnoreMeta(r);
  r.Ignore("campaign_id");
  r.String("name", g.name, c.creating, 255, true);
  r.String("trigger", g.trigger, c.creating, 32);
  if (r.ok()) {
    bool known = false;
    for (const char* t : kWebhookTriggers) known = known || g.trigger == t;
    if (!known) {
      r.Fail("trigger",
             "must be one of started, routed, answered, ended, completed, converted, "
             "not_converted");
    }
  }
  ReadFilter(r, g.matches);
  r.Int("position", g.position, false, 0, 1000000);
  r.Bool("enabled", g.enabled);
  const bool was_signed = g.sign;
  r.Bool("sign", g.sign);
  if (const auto* v = r.NonNull("requests")) {
    if (!v->is_array() || v->get_array().empty() || v->get_array().size() > 10) {
      r.Fail("requests", "must be a list of 1 to 10 requests");
    } else {
      std::vector<WebhookRequest> requests;
      for (size_t i = 0; i < v->get_array().size() && r.ok(); ++i) {
        auto req = ReadRequest(r, v->get_array()[i], i, c.stored || c.allow_private_webhooks);
        if (req) requests.push_back(std::move(*req));
      }
      g.requests = std::move(requests);
    }
  } else if (c.creating) {
    r.Fail("requests", "is required");
  }
  if (c.stored) {
    r.String("signing_secret", g.signing_secret, false, 128);
    r.String("previous_secret", g.previous_secret, false, 128);
    std::string until;
    r.String("previous_secret_until", until, false, 64);
    if (!until.empty()) g.previous_secret_until = core::ParseRfc3339(until).value_or(0);
  } else {
    // Output only: rotate with …/rotate_secret.
    r.Ignore("signing_secret");
    r.Ignore("previous_secret");
    r.Ignore("previous_secret_until");
    if (!g.sign) {
      // Turning signing off forgets the secrets, the previous one too: an operator who turns
      // it off to drop a leaked secret must not have it sign again when it is turned on.
      g.signing_secret.clear();
      g.previous_secret.clear();
      g.previous_secret_until = 0;
    } else if (!was_signed) {
      g.signing_secret = core::NewWebhookSecret();  // a new secret, with no previous one
      g.previous_secret.clear();
      g.previous_secret_until = 0;
    }
  }
  return Done(r, std::move(g));
}

json::object Encode(const WebhookGroup& g) {
  json::object o;
  EncodeMeta(g, o);
  o["campaign_id"] = g.campaign_id;
  o["name"] = g.name;
  o["trigger"] = g.trigger;
  o["matches"] = g.matches.text();
  o["position"] = g.position;
  o["enabled"] = g.enabled;
  o["sign"] = g.sign;
  json::array requests;
  for (const auto& req : g.requests) {
    json::object headers;
    for (const auto& [name, value] : req.headers) headers[name] = value.text();
    requests.push_back(json::object{{"method", req.method},
                                    {"url", req.url.text()},
                                    {"headers", std::move(headers)},
                                    {"body", req.body ? json::value(req.body->text()) : nullptr}});
  }
  o["requests"] = std::move(requests);
  if (g.sign) o["signing_secret"] = g.signing_secret;
  // Only while signing: a group stored unsigned with a previous secret (before signing off
  // forgot it) neither shows it nor keeps it when next saved.
  if (g.sign && !g.previous_secret.empty()) {
    o["previous_secret"] = g.previous_secret;
    o["previous_secret_until"] = core::FormatRfc3339(g.previous_secret_until);
  }
  return o;
}

core::Result<PublisherKey> Decode(const json::object& o, PublisherKey k, const DecodeContext& c) {
  FieldReader r = Reader(o, c);
  IgnoreMeta(r);
  r.Ignore("publisher_id");
  r.String("name", k.name, false, 255);
  r.Int("storage_seconds", k.storage_seconds, false, 60, 90 * 86400);
  r.Bool("paused", k.paused);
  if (c.stored) {
    r.String("action", k.action, true, 32);
    r.String("prefix", k.prefix, true, 32);
    r.String("hash", k.hash, true, 64);
  } else {
    for (const char* f : {"action", "prefix"}) r.Ignore(f);
  }
  return Done(r, std::move(k));
}

json::object Encode(const PublisherKey& k) {
  json::object o;
  EncodeMeta(k, o);
  o["publisher_id"] = k.publisher_id;
  o["name"] = k.name;
  o["action"] = k.action;
  o["storage_seconds"] = k.storage_seconds;
  o["paused"] = k.paused;
  o["prefix"] = k.prefix;
  o["hash"] = k.hash;
  return o;
}

core::Result<Account> Decode(const json::object& o, Account a, const DecodeContext& c) {
  FieldReader r = Reader(o, c);
  r.Ignore("id");
  r.Ignore("created_at");
  r.String("name", a.name, c.creating, 255, true);
  r.Bool("carry_over_postback_tags", a.carry_over_postback_tags);
  r.Int("call_key_ttl_seconds", a.call_key_ttl_seconds, false, 60, 10LL * 366 * 86400);
  return Done(r, std::move(a));
}

json::object Encode(const Publisher& p) {
  json::object o;
  EncodeMeta(p, o);
  o["name"] = p.name;
  o["external_id"] = p.external_id;
  return o;
}

json::object Encode(const Buyer& b) {
  json::object o;
  EncodeMeta(b, o);
  o["name"] = b.name;
  o["destination"] = b.destination;
  o["concurrency_cap"] = b.concurrency_cap ? json::value(*b.concurrency_cap) : json::value();
  return o;
}

json::object Encode(const Campaign& c) {
  json::object o;
  EncodeMeta(c, o);
  o["name"] = c.name;
  json::array buyers;
  for (const auto& b : c.buyers) {
    buyers.push_back(
        json::object{{"buyer_id", b.buyer_id}, {"priority", b.priority}, {"weight", b.weight}});
  }
  o["buyers"] = std::move(buyers);
  o["repeat_callers"] = json::object{{"enabled", c.repeat_callers.enabled},
                                     {"window_seconds", c.repeat_callers.window_seconds},
                                     {"route", ToString(c.repeat_callers.route)}};
  return o;
}

json::object Encode(const Number& n) {
  json::object o;
  EncodeMeta(n, o);
  o["number"] = n.number;
  o["campaign_id"] = n.campaign_id;
  o["publisher_id"] = n.publisher_id ? json::value(*n.publisher_id) : json::value();
  json::object tags;
  for (const auto& [k, v] : n.tags) tags[k] = v;
  o["tags"] = std::move(tags);
  return o;
}

json::object Encode(const ConversionGroup& g) {
  json::object o;
  EncodeMeta(g, o);
  o["campaign_id"] = g.campaign_id;
  o["name"] = g.name;
  o["type"] = ToString(g.type);
  o["matches"] = g.matches.text();
  o["position"] = g.position;
  switch (g.type) {
    case ConversionType::kDuration:
      o["seconds"] = g.seconds;
      break;
    case ConversionType::kPostbackValue:
      o["value_param"] = g.value_param;
      o["payout_modifier"] = g.payout_modifier.text();
      break;
    case ConversionType::kPostbackTrigger:
      o["trigger"] = g.trigger;
      break;
  }
  if (g.type != ConversionType::kPostbackValue) {
    o["revenue"] = g.revenue.ToString();
    o["payout"] = g.payout.ToString();
  }
  if (g.IsPostback()) o["postback_timeout_seconds"] = g.postback_timeout_seconds;
  return o;
}

json::object Encode(const Account& a) {
  return json::object{{"id", a.id},
                      {"name", a.name},
                      {"carry_over_postback_tags", a.carry_over_postback_tags},
                      {"call_key_ttl_seconds", a.call_key_ttl_seconds},
                      {"created_at", core::FormatRfc3339(a.created_at)}};
}

json::object Encode(const ApiKey& k) {
  return json::object{{"id", k.id},
                      {"name", k.name},
                      {"prefix", k.prefix},
                      {"created_at", core::FormatRfc3339(k.created_at)}};
}

}  // namespace config

#include "service/config_service.h"

#include <boost/json.hpp>

#include "config/codec.h"
#include "config/field_reader.h"
#include "core/crypto.h"
#include "core/webhook_signature.h"

namespace service {

namespace json = boost::json;
using core::Result;

namespace {

// Per-type knowledge for the generic operations.
template <typename T>
struct Traits;
template <>
struct Traits<config::Publisher> {
  static constexpr const char* kKind = "publisher";
  static auto& Map(config::Snapshot& s) { return s.publishers; }
};
template <>
struct Traits<config::Buyer> {
  static constexpr const char* kKind = "buyer";
  static auto& Map(config::Snapshot& s) { return s.buyers; }
};
template <>
struct Traits<config::Campaign> {
  static constexpr const char* kKind = "campaign";
  static auto& Map(config::Snapshot& s) { return s.campaigns; }
};
template <>
struct Traits<config::Number> {
  static constexpr const char* kKind = "number";
  static auto& Map(config::Snapshot& s) { return s.numbers; }
};
template <>
struct Traits<config::ConversionGroup> {
  static constexpr const char* kKind = "conversion_group";
  static auto& Map(config::Snapshot& s) { return s.conversion_groups; }
};

template <>
struct Traits<config::WebhookGroup> {
  static constexpr const char* kKind = "webhook_group";
  static auto& Map(config::Snapshot& s) { return s.webhook_groups; }
};

template <>
struct Traits<config::PublisherKey> {
  static constexpr const char* kKind = "publisher_key";
  static auto& Map(config::Snapshot& s) { return s.publisher_keys; }
};

// Groups hang off a campaign (parent_id).
template <typename T>
constexpr bool kIsGroup =
    std::is_same_v<T, config::ConversionGroup> || std::is_same_v<T, config::WebhookGroup>;

template <typename T>
const auto& ConstMap(const config::Snapshot& s) {
  return Traits<T>::Map(const_cast<config::Snapshot&>(s));
}

template <typename T>
Result<void> LoadRow(const store::ConfigRow& row, config::Snapshot& s) {
  json::error_code ec;
  json::value v = json::parse(row.doc, ec);
  if (ec || !v.is_object())
    return core::Internal("stored object " + std::to_string(row.id) + " is not JSON");
  T base;
  base.id = row.id;
  base.account_id = row.account_id;
  base.created_at = row.created_at;
  base.updated_at = row.updated_at;
  if constexpr (kIsGroup<T>) base.campaign_id = row.parent_id;
  if constexpr (std::is_same_v<T, config::PublisherKey>) base.publisher_id = row.parent_id;
  auto obj = config::Decode(v.get_object(), std::move(base),
                            config::DecodeContext{true, nullptr, /*stored=*/true});
  if (!obj)
    return core::Internal("stored object " + std::to_string(row.id) + ": " + obj.error().message);
  s.Put(std::move(*obj));
  return {};
}

// The row a stored object hangs off (parent_id): its campaign, or its publisher, or none.
template <typename T>
Id ParentOf(const T& obj) {
  if constexpr (kIsGroup<T>) {
    return obj.campaign_id;
  } else if constexpr (std::is_same_v<T, config::PublisherKey>) {
    return obj.publisher_id;
  } else {
    return 0;
  }
}

// Calls f.template operator()<T>() with the type of `kind`.
template <typename F>
auto Dispatch(Kind kind, F&& f) {
  switch (kind) {
    case Kind::kPublisher:
      return f.template operator()<config::Publisher>();
    case Kind::kBuyer:
      return f.template operator()<config::Buyer>();
    case Kind::kCampaign:
      return f.template operator()<config::Campaign>();
    case Kind::kNumber:
      return f.template operator()<config::Number>();
    case Kind::kConversionGroup:
      return f.template operator()<config::ConversionGroup>();
    case Kind::kWebhookGroup:
      return f.template operator()<config::WebhookGroup>();
    case Kind::kPublisherKey:
      break;
  }
  return f.template operator()<config::PublisherKey>();
}

std::string ApiKeyHash(std::string_view key) { return core::HexEncode(core::Sha256(key)); }

config::ApiKey NewKey(Id account_id, std::string name, core::Millis now, std::string& secret) {
  secret = core::RandomToken("cpk_", 32);
  return config::ApiKey{0,  account_id, std::move(name), secret.substr(0, 12), ApiKeyHash(secret),
                        now};
}

core::Error NotFoundKind(Kind kind, Id id) {
  std::string name = CollectionName(kind);
  name.pop_back();  // singular
  std::replace(name.begin(), name.end(), '_', ' ');
  return core::NotFound("no " + name + " with id " + std::to_string(id));
}

}  // namespace

const char* CollectionName(Kind kind) {
  switch (kind) {
    case Kind::kPublisher:
      return "publishers";
    case Kind::kBuyer:
      return "buyers";
    case Kind::kCampaign:
      return "campaigns";
    case Kind::kNumber:
      return "numbers";
    case Kind::kConversionGroup:
      return "conversion_groups";
    case Kind::kWebhookGroup:
      return "webhook_groups";
    case Kind::kPublisherKey:
      return "postback_keys";
  }
  return "";
}

ConfigService::ConfigService(store::Store& store, const core::Clock& clock, ConfigOptions options)
    : store_(store), clock_(clock), options_(options) {}

Result<void> ConfigService::Load() {
  auto snap = std::make_shared<config::Snapshot>();
  auto r = store_.Read([&](store::Reader& rd) -> Result<void> {
    auto version = rd.ConfigVersion();
    if (!version) return std::move(version).error();
    snap->version = *version;
    auto accounts = rd.LoadAccounts();
    if (!accounts) return std::move(accounts).error();
    for (auto& a : *accounts) snap->accounts.emplace(a.id, std::move(a));
    auto keys = rd.LoadApiKeys();
    if (!keys) return std::move(keys).error();
    for (auto& k : *keys) snap->api_keys_by_hash.emplace(k.hash, std::move(k));
    auto rows = rd.LoadConfigRows();
    if (!rows) return std::move(rows).error();
    for (const auto& row : *rows) {
      Result<void> loaded = core::Internal("unknown kind " + row.kind);
      if (row.kind == "publisher") loaded = LoadRow<config::Publisher>(row, *snap);
      if (row.kind == "buyer") loaded = LoadRow<config::Buyer>(row, *snap);
      if (row.kind == "campaign") loaded = LoadRow<config::Campaign>(row, *snap);
      if (row.kind == "number") loaded = LoadRow<config::Number>(row, *snap);
      if (row.kind == "conversion_group") loaded = LoadRow<config::ConversionGroup>(row, *snap);
      if (row.kind == "webhook_group") loaded = LoadRow<config::WebhookGroup>(row, *snap);
      if (row.kind == "publisher_key") loaded = LoadRow<config::PublisherKey>(row, *snap);
      if (!loaded) return loaded;
    }
    return {};
  });
  if (!r) return r;
  snap->IndexGroups();  // LoadRow's Put kept the other indexes
  std::lock_guard lock(mu_);
  snapshot_ = std::move(snap);
  return {};
}

Result<void> ConfigService::ReloadIfChanged() {
  int64_t version = 0;
  auto r = store_.Read([&](store::Reader& rd) -> Result<void> {
    auto v = rd.ConfigVersion();
    if (!v) return std::move(v).error();
    version = *v;
    return {};
  });
  if (!r) return r;
  if (version == snapshot()->version) return {};
  std::lock_guard lock(write_mu_);
  // A write of this process may have brought the snapshot to that version while this waited
  // for it (the version read between the write's commit and its change of the snapshot).
  if (version == snapshot()->version) return {};
  return Load();
}

config::SnapshotPtr ConfigService::snapshot() const {
  std::lock_guard lock(mu_);
  return snapshot_;
}

Result<ConfigService::Versions> ConfigService::WriteConfig(
    const std::function<Result<void>(store::Writer&)>& fn) {
  Versions v;
  auto r = store_.WriteSync([&](store::Writer& w) -> Result<void> {
    auto before = w.LockConfigVersion();
    if (!before) return std::move(before).error();
    if (auto written = fn(w); !written) return written;
    auto after = w.ConfigVersion();
    if (!after) return std::move(after).error();
    v = Versions{*before, *after};  // set, never added to: the store may run a unit again
    return {};
  });
  if (!r) return std::move(r).error();
  return v;
}

Result<void> ConfigService::Apply(Versions versions,
                                  const std::function<Result<void>(config::Snapshot&)>& change) {
  config::SnapshotPtr current = snapshot();
  if (current == nullptr || current->version != versions.before) return Load();
  std::shared_ptr<config::Snapshot> next = current->Clone();
  if (auto changed = change(*next); !changed) return Load();
  next->version = versions.after;
  next->IndexGroups();
  std::lock_guard lock(mu_);
  snapshot_ = std::move(next);
  return {};
}

template <typename T>
Result<void> ConfigService::ApplyRow(Versions versions, store::ConfigRow row) {
  return Apply(versions, [&](config::Snapshot& s) { return LoadRow<T>(row, s); });
}

std::optional<Id> ConfigService::Authenticate(std::string_view api_key) {
  if (api_key.size() < 16 || api_key.size() > 128) return std::nullopt;
  const std::string hash = ApiKeyHash(api_key);
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto snap = snapshot();
    auto it = snap->api_keys_by_hash.find(hash);
    if (it != snap->api_keys_by_hash.end()) return it->second.account_id;
    if (attempt == 0 && !ReloadIfChanged()) return std::nullopt;
  }
  return std::nullopt;
}

PublisherKeyLookup ConfigService::FindPublisherKey(std::string_view key) {
  const std::string hash = ApiKeyHash(key);
  PublisherKeyLookup found{snapshot()};
  found.key = found.snapshot->FindPublisherKey(hash);
  if (found.key == nullptr && ReloadIfChanged()) {
    // Made a moment ago through another node or process.
    found.snapshot = snapshot();
    found.key = found.snapshot->FindPublisherKey(hash);
  }
  return found;
}

Result<config::Account> ConfigService::AccountNamed(const std::string& name) {
  return config::Decode(json::object{{"name", name}}, config::Account{}, config::DecodeContext{});
}

Result<NewAccount> ConfigService::CreateAccount(const std::string& name) {
  auto account = AccountNamed(name);
  if (!account) return std::move(account).error();
  std::lock_guard lock(write_mu_);
  NewAccount out;
  out.account = std::move(*account);
  out.account.created_at = clock_.Now();
  auto r = store_.WriteSync([&](store::Writer& w) -> Result<void> {
    auto id = w.InsertAccount(out.account);
    if (!id) return std::move(id).error();
    out.account.id = *id;
    auto key = w.InsertApiKey(NewKey(*id, "default", out.account.created_at, out.api_key));
    return key ? Result<void>() : Result<void>(std::move(key).error());
  });
  if (!r) return std::move(r).error();
  if (auto l = Load(); !l) return std::move(l).error();
  return out;
}

Result<json::object> ConfigService::GetAccount(Id account_id) {
  const config::Account* a = snapshot()->FindAccount(account_id);
  if (a == nullptr) return core::NotFound("no such account");
  return config::Encode(*a);
}

Result<json::object> ConfigService::UpdateAccount(Id account_id, const json::object& body) {
  std::lock_guard lock(write_mu_);
  auto snap = snapshot();
  const config::Account* a = snap->FindAccount(account_id);
  if (a == nullptr) return core::NotFound("no such account");
  auto updated = config::Decode(body, *a, config::DecodeContext{false, snap.get()});
  if (!updated) return std::move(updated).error();
  auto r = store_.WriteSync([&](store::Writer& w) { return w.UpdateAccount(*updated); });
  if (!r) return std::move(r).error();
  if (auto l = Load(); !l) return std::move(l).error();
  return config::Encode(*updated);
}

Result<NewApiKey> ConfigService::CreateApiKey(Id account_id, const json::object& body) {
  // Read as every configuration name is (no NUL byte, which PostgreSQL would cut the name at).
  std::string name = "api key";
  config::FieldReader fields(body, {}, config::FieldReader::Nulls::kRefused);
  fields.String("name", name, false, 255, true);
  if (auto done = fields.Finish(); !done) return std::move(done).error();
  std::lock_guard lock(write_mu_);
  NewApiKey out;
  out.key = NewKey(account_id, name, clock_.Now(), out.secret);
  auto r = store_.WriteSync([&](store::Writer& w) -> Result<void> {
    auto id = w.InsertApiKey(out.key);
    if (!id) return std::move(id).error();
    out.key.id = *id;
    return {};
  });
  if (!r) return std::move(r).error();
  if (auto l = Load(); !l) return std::move(l).error();
  return out;
}

Result<json::array> ConfigService::ListApiKeys(Id account_id) {
  std::vector<const config::ApiKey*> keys;
  auto snap = snapshot();
  for (const auto& [hash, k] : snap->api_keys_by_hash) {
    if (k.account_id == account_id) keys.push_back(&k);
  }
  std::sort(keys.begin(), keys.end(), [](auto* a, auto* b) { return a->id < b->id; });
  json::array out;
  for (const auto* k : keys) out.push_back(config::Encode(*k));
  return out;
}

Result<void> ConfigService::DeleteApiKey(Id account_id, Id id) {
  std::lock_guard lock(write_mu_);
  auto snap = snapshot();
  int remaining = 0;
  bool found = false;
  for (const auto& [hash, k] : snap->api_keys_by_hash) {
    if (k.account_id != account_id) continue;
    if (k.id == id)
      found = true;
    else
      ++remaining;
  }
  if (!found) return core::NotFound("no API key with id " + std::to_string(id));
  if (remaining == 0) {
    return core::MakeError(core::ErrorCode::kConflict,
                           "an account keeps at least one API key: create another first");
  }
  auto r = store_.WriteSync([&](store::Writer& w) { return w.DeleteApiKey(account_id, id); });
  if (!r) return r;
  return Load();
}

template <typename T>
Result<json::object> ConfigService::CreateT(Id account_id, Id parent_id, const json::object& body) {
  std::lock_guard lock(write_mu_);
  auto snap = snapshot();
  T base;
  base.account_id = account_id;
  base.created_at = base.updated_at = clock_.Now();
  if constexpr (kIsGroup<T>) {
    if (!config::Snapshot::Find(snap->campaigns, account_id, parent_id)) {
      return NotFoundKind(Kind::kCampaign, parent_id);
    }
    base.campaign_id = parent_id;
    int64_t next = 0;
    if constexpr (std::is_same_v<T, config::ConversionGroup>) {
      for (const auto* g : snap->ConversionGroupsOf(parent_id))
        next = std::max(next, g->position + 1);
    } else {
      for (const auto* g : snap->WebhookGroupsOf(parent_id)) next = std::max(next, g->position + 1);
    }
    base.position = next;
  }
  auto obj = config::Decode(
      body, std::move(base),
      config::DecodeContext{true, snap.get(), false, options_.allow_private_webhooks});
  if (!obj) return std::move(obj).error();
  store::ConfigRow row{0,  account_id,      Traits<T>::kKind, parent_id,
                       "", obj->created_at, obj->updated_at};
  row.doc = json::serialize(config::Encode(*obj));
  auto v = WriteConfig([&](store::Writer& w) -> Result<void> {
    auto id = w.InsertConfig(row);
    if (!id) return std::move(id).error();
    obj->id = *id;
    return {};
  });
  if (!v) return std::move(v).error();
  row.id = obj->id;
  if (auto a = ApplyRow<T>(*v, std::move(row)); !a) return std::move(a).error();
  return config::Encode(*obj);
}

template <typename T>
Result<json::object> ConfigService::UpdateT(Id account_id, Id id, const json::object& body) {
  std::lock_guard lock(write_mu_);
  auto snap = snapshot();
  const T* existing = config::Snapshot::Find(ConstMap<T>(*snap), account_id, id);
  if (existing == nullptr) return core::NotFound("no such object: " + std::to_string(id));
  T base = *existing;
  base.updated_at = clock_.Now();
  auto obj = config::Decode(
      body, std::move(base),
      config::DecodeContext{false, snap.get(), false, options_.allow_private_webhooks});
  if (!obj) return std::move(obj).error();
  store::ConfigRow row{id,
                       account_id,
                       Traits<T>::kKind,
                       0,
                       json::serialize(config::Encode(*obj)),
                       obj->created_at,
                       obj->updated_at};
  auto v = WriteConfig([&](store::Writer& w) { return w.UpdateConfig(row); });
  if (!v) return std::move(v).error();
  row.parent_id = ParentOf(*obj);
  if (auto a = ApplyRow<T>(*v, std::move(row)); !a) return std::move(a).error();
  return config::Encode(*obj);
}

Result<json::object> ConfigService::Create(Kind kind, Id account_id, Id parent_id,
                                           const json::object& body) {
  return Dispatch(kind, [&]<typename T>() { return CreateT<T>(account_id, parent_id, body); });
}

Result<json::object> ConfigService::Update(Kind kind, Id account_id, Id id,
                                           const json::object& body) {
  auto r = Dispatch(kind, [&]<typename T>() { return UpdateT<T>(account_id, id, body); });
  if (!r && r.error().code == core::ErrorCode::kNotFound) return NotFoundKind(kind, id);
  return r;
}

Result<json::object> ConfigService::Get(Kind kind, Id account_id, Id id) {
  auto snap = snapshot();
  return Dispatch(kind, [&]<typename T>() -> Result<json::object> {
    const T* obj = config::Snapshot::Find(ConstMap<T>(*snap), account_id, id);
    if (obj == nullptr) return NotFoundKind(kind, id);
    return config::Encode(*obj);
  });
}

Result<void> ConfigService::CheckNotReferenced(const config::Snapshot& s, Kind kind, Id id) {
  auto conflict = [](std::string what) {
    return core::MakeError(core::ErrorCode::kConflict, std::move(what));
  };
  if (kind == Kind::kBuyer) {
    for (const auto& [cid, c] : s.campaigns) {
      for (const auto& b : c.buyers) {
        if (b.buyer_id == id) {
          return conflict("buyer " + std::to_string(id) + " is used by campaign " +
                          std::to_string(cid) + "; remove it there first");
        }
      }
    }
  }
  for (const auto& [nid, n] : s.numbers) {
    if ((kind == Kind::kCampaign && n.campaign_id == id) ||
        (kind == Kind::kPublisher && n.publisher_id == id)) {
      return conflict(std::string(kind == Kind::kCampaign ? "campaign " : "publisher ") +
                      std::to_string(id) + " is used by number " + n.number +
                      "; delete or move the number first");
    }
  }
  return {};
}

Result<void> ConfigService::Delete(Kind kind, Id account_id, Id id) {
  std::lock_guard lock(write_mu_);
  auto snap = snapshot();
  if (auto found = Get(kind, account_id, id); !found) return std::move(found).error();
  if (auto refs = CheckNotReferenced(*snap, kind, id); !refs) return refs;
  std::vector<Id> doomed{id};
  if (kind == Kind::kCampaign) {
    for (const auto* g : snap->ConversionGroupsOf(id)) doomed.push_back(g->id);
    for (const auto* g : snap->WebhookGroupsOf(id)) doomed.push_back(g->id);
  }
  if (kind == Kind::kPublisher) {
    for (const auto& [kid, k] : snap->publisher_keys) {
      if (k.publisher_id == id) doomed.push_back(kid);
    }
  }
  auto v = WriteConfig([&](store::Writer& w) -> Result<void> {
    for (Id d : doomed) {
      if (auto del = w.DeleteConfig(account_id, d); !del) return del;
    }
    return {};
  });
  if (!v) return std::move(v).error();
  return Apply(*v, [&](config::Snapshot& s) -> Result<void> {
    for (Id d : doomed) s.Erase(d);
    return {};
  });
}

Result<Page> ConfigService::List(Kind kind, Id account_id, Id parent_id, Id after_id, int limit) {
  auto snap = snapshot();
  return Dispatch(kind, [&]<typename T>() -> Result<Page> {
    Page page;
    const auto& m = ConstMap<T>(*snap);
    for (auto it = m.upper_bound(after_id); it != m.end(); ++it) {
      const T& obj = it->second;
      if (obj.account_id != account_id) continue;
      if constexpr (kIsGroup<T>) {
        if (parent_id != 0 && obj.campaign_id != parent_id) continue;
      }
      if constexpr (std::is_same_v<T, config::PublisherKey>) {
        if (parent_id != 0 && obj.publisher_id != parent_id) continue;
      }
      if (static_cast<int>(page.data.size()) == limit) {
        page.next_cursor = std::to_string(page.data.back().as_object().at("id").as_int64());
        break;
      }
      page.data.push_back(config::Encode(obj));
    }
    return page;
  });
}

Result<json::object> ConfigService::RotateWebhookSecret(Id account_id, Id id,
                                                        int64_t overlap_seconds) {
  std::lock_guard lock(write_mu_);
  auto snap = snapshot();
  const auto* existing = config::Snapshot::Find(snap->webhook_groups, account_id, id);
  if (existing == nullptr) return NotFoundKind(Kind::kWebhookGroup, id);
  if (!existing->sign) {
    return core::MakeError(core::ErrorCode::kConflict,
                           "this webhook group does not sign its requests; set sign first");
  }
  config::WebhookGroup g = *existing;
  g.previous_secret = g.signing_secret;
  g.previous_secret_until = clock_.Now() + overlap_seconds * 1000;
  g.signing_secret = core::NewWebhookSecret();
  g.updated_at = clock_.Now();
  store::ConfigRow row{
      id,           account_id,  "webhook_group", 0, json::serialize(config::Encode(g)),
      g.created_at, g.updated_at};
  auto v = WriteConfig([&](store::Writer& w) { return w.UpdateConfig(row); });
  if (!v) return std::move(v).error();
  row.parent_id = g.campaign_id;
  if (auto a = ApplyRow<config::WebhookGroup>(*v, std::move(row)); !a) {
    return std::move(a).error();
  }
  return config::Encode(g);
}

Result<NewPublisherKey> ConfigService::CreatePublisherKey(Id account_id, Id publisher_id,
                                                          const json::object& body) {
  std::lock_guard lock(write_mu_);
  auto snap = snapshot();
  if (!config::Snapshot::Find(snap->publishers, account_id, publisher_id)) {
    return NotFoundKind(Kind::kPublisher, publisher_id);
  }
  NewPublisherKey out;
  config::PublisherKey base;
  base.account_id = account_id;
  base.publisher_id = publisher_id;
  base.created_at = base.updated_at = clock_.Now();
  auto key = config::Decode(body, std::move(base), config::DecodeContext{true, snap.get()});
  if (!key) return std::move(key).error();
  out.key = std::move(*key);
  out.secret = core::RandomToken("cpd_", 32);
  out.key.prefix = out.secret.substr(0, 12);
  out.key.hash = ApiKeyHash(out.secret);
  if (out.key.name.empty()) out.key.name = "postback key";
  store::ConfigRow row{0,  account_id,         "publisher_key",   publisher_id,
                       "", out.key.created_at, out.key.updated_at};
  row.doc = json::serialize(config::Encode(out.key));
  auto v = WriteConfig([&](store::Writer& w) -> Result<void> {
    auto id = w.InsertConfig(row);
    if (!id) return std::move(id).error();
    out.key.id = *id;
    return {};
  });
  if (!v) return std::move(v).error();
  row.id = out.key.id;
  if (auto a = ApplyRow<config::PublisherKey>(*v, std::move(row)); !a) {
    return std::move(a).error();
  }
  return out;
}

}  // namespace service
